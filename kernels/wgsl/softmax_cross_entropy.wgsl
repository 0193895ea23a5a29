// softmax_cross_entropy, one invocation per sample b (logits [B, K], labels [B], weights [B]):
//   loss[b]         = weights[b]·(−log softmax(logits_b)[labels_b])
//   gradLogits[b,k] = scale·weights[b]·(softmax(logits_b)_k − [k == labels_b])
// The row max is subtracted before exp, so large logits neither overflow nor lose the loss to rounding.
override WG: u32 = 64;

struct Params {
  batch: u32,
  classes: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradLogits: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let b = gid.x + gid.y * groups.x * WG;
  if (b >= params.batch) { return; }
  let K = params.classes;
  let row = b * K;
  var top = logits[row];
  for (var k = 1u; k < K; k++) { top = max(top, logits[row + k]); }
  var sum = 0.0;
  for (var k = 0u; k < K; k++) { sum += exp(logits[row + k] - top); }
  let label = labels[b];
  let weight = weights[b];
  loss[b] = weight * (log(sum) - (logits[row + label] - top));
  let gradScale = params.scale * weight;
  for (var k = 0u; k < K; k++) {
    let p = exp(logits[row + k] - top) / sum;
    gradLogits[row + k] = gradScale * (p - select(0.0, 1.0, k == label));
  }
}
