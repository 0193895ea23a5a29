// policy_gradient: importance-weighted REINFORCE on logged bandit feedback (logits [B, K], actions [B], propensities [B],
// rewards [B]):
//   π = softmax(logits_b)
//   w_b = min(π(a_b|x_b) / p_b, clip), a constant: no gradient flows through w
//         (INVERSE: w_b = min(1 / p_b, clip), whose expectation gives Σ_a (r − baseline)·∇log π(a|x))
//   if SELF_NORMALIZE: w_b ← w_b / Σ_b' w_b'   (0 if the sum is 0)
//   loss_b          = −w_b·(r_b − baseline)·log π(a_b|x_b) − λ·w_b·n_b·log(1 − π(a_b|x_b))
//   gradLogits[b,k] = scale·w_b·(λ·n_b·π_a/(1 − π_a) − (r_b − baseline))·([k == a_b] − π_k)
//   weights[b]      = w_b, for diagnostics such as the effective sample size
// The second term is the complementary label (n_b = 1: the reward said "not a_b"; λ = params.complementary): it pushes
// π(a_b|x_b) down, towards every other class, with a pull that fades as π(a_b) does. 1 − π_a is summed from the other
// classes, not subtracted, so it keeps its precision when π_a is near 1.
// Each invocation walks samples b = index, index + stride, ...; self-normalising runs one workgroup (its reduction over
// the batch), which is fine for batches up to a few thousand with a handful of classes.
override WG: u32 = 64;
override SELF_NORMALIZE: bool = false;
override INVERSE: bool = false;

struct Params {
  batch: u32,
  classes: u32,
  baseline: f32,
  clip: f32,
  scale: f32,
  complementary: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> actions: array<u32>;
@group(0) @binding(2) var<storage, read> propensities: array<f32>;
@group(0) @binding(3) var<storage, read> rewards: array<f32>;
@group(0) @binding(4) var<storage, read> negatives: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradLogits: array<f32>;
@group(0) @binding(7) var<storage, read_write> weights: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG>;

// Row max and Σ exp(logit − max) of sample b.
fn softmax_stats(b: u32) -> vec2f {
  let K = params.classes;
  var top = logits[b * K];
  for (var k = 1u; k < K; k++) { top = max(top, logits[b * K + k]); }
  var sum = 0.0;
  for (var k = 0u; k < K; k++) { sum += exp(logits[b * K + k] - top); }
  return vec2f(top, sum);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lane: u32,
        @builtin(num_workgroups) groups: vec3u) {
  let first = gid.x + gid.y * groups.x * WG;
  let stride = groups.x * groups.y * WG;
  let B = params.batch;
  let K = params.classes;

  var total = 0.0;
  for (var b = first; b < B; b += stride) {
    let stats = softmax_stats(b);
    let chosen = exp(logits[b * K + actions[b]] - stats.x) / stats.y;
    let w = min(select(chosen, 1.0, INVERSE) / propensities[b], params.clip);
    weights[b] = w;
    total += w;
  }
  var normalizer = 1.0;
  if (SELF_NORMALIZE) {
    partial[lane] = total;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
      if (lane < half) { partial[lane] += partial[lane + half]; }
      workgroupBarrier();
    }
    normalizer = select(0.0, 1.0 / partial[0], partial[0] > 0.0);
  }

  for (var b = first; b < B; b += stride) {
    let stats = softmax_stats(b);
    let action = actions[b];
    let w = weights[b] * normalizer;
    weights[b] = w;
    let advantage = w * (rewards[b] - params.baseline);
    var others = 0.0;
    for (var k = 0u; k < K; k++) { if (k != action) { others += exp(logits[b * K + k] - stats.x); } }
    let chosen = exp(logits[b * K + action] - stats.x);
    let negative = params.complementary * w * negatives[b];
    var pushDown = 0.0; // λ·w·n·π_a/(1 − π_a), and its loss, only where the term is on (0·∞ would be NaN)
    var negativeLoss = 0.0;
    if (negative != 0.0) {
      pushDown = negative * chosen / others;
      negativeLoss = -negative * (log(others) - log(stats.y));
    }
    loss[b] = -advantage * (logits[b * K + action] - stats.x - log(stats.y)) + negativeLoss;
    let gradScale = params.scale * (pushDown - advantage);
    for (var k = 0u; k < K; k++) {
      let p = exp(logits[b * K + k] - stats.x) / stats.y;
      gradLogits[b * K + k] = gradScale * (select(0.0, 1.0, k == action) - p);
    }
  }
}
