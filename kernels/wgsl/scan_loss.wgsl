// scan_loss: SCAN's clustering loss (Van Gansbeke et al. 2020) over R = 2N rows of logits [R, K], rows i and
// (i + N) mod R an image and one of its nearest neighbours (or two views of one image), p_r = softmax(logits_r):
//   L               = −(1/N)·Σ_{i<N} log(p_i · p_{i+N}) + λ·Σ_k m_k log m_k,      m = (1/R)·Σ_r p_r
//   loss[r]         = −log(p_r · p_partner(r)) + λ·Σ_k m_k log m_k                 (their mean over r is L)
//   g_rk            = ∂L/∂p_rk = −p_partner(r),k / (N·(p_r · p_partner(r))) + λ·(log m_k + 1)/R
//   gradLogits[r,k] = scale·p_rk·(g_rk − Σ_j p_rj·g_rj)                            (through the softmax)
// The mean assignment m couples every row, so the whole batch is one workgroup: each invocation takes rows
// lid, lid + WG, …; probabilities are written to their buffer first, then m is summed into workgroup memory.
override WG: u32 = 64;
const MAX_CLASSES = 64u;

struct Params {
  rows: u32,
  classes: u32,
  entropyWeight: f32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> probabilities: array<f32>;
@group(0) @binding(3) var<storage, read_write> gradLogits: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> mean: array<f32, MAX_CLASSES>;
var<workgroup> negativeEntropy: f32;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let R = params.rows;
  let K = params.classes;
  let N = R / 2u;
  for (var r = lid; r < R; r += WG) {
    var top = logits[r * K];
    for (var k = 1u; k < K; k++) { top = max(top, logits[r * K + k]); }
    var total = 0.0;
    for (var k = 0u; k < K; k++) {
      let e = exp(logits[r * K + k] - top);
      probabilities[r * K + k] = e;
      total += e;
    }
    for (var k = 0u; k < K; k++) { probabilities[r * K + k] /= total; }
  }
  storageBarrier();
  workgroupBarrier();
  for (var k = lid; k < K; k += WG) {
    var sum = 0.0;
    for (var r = 0u; r < R; r++) { sum += probabilities[r * K + k]; }
    mean[k] = sum / f32(R);
  }
  workgroupBarrier();
  if (lid == 0u) {
    var h = 0.0;
    for (var k = 0u; k < K; k++) {
      let m = max(mean[k], 1e-30);
      h += m * log(m);
    }
    negativeEntropy = h;
  }
  workgroupBarrier();
  let lambda = params.entropyWeight;
  for (var r = lid; r < R; r += WG) {
    let q = (r + N) % R;
    var dot = 0.0;
    for (var k = 0u; k < K; k++) { dot += probabilities[r * K + k] * probabilities[q * K + k]; }
    dot = max(dot, 1e-30);
    loss[r] = -log(dot) + lambda * negativeEntropy;
    var pg = 0.0;
    for (var k = 0u; k < K; k++) {
      let g = -probabilities[q * K + k] / (f32(N) * dot) + lambda * (log(max(mean[k], 1e-30)) + 1.0) / f32(R);
      pg += probabilities[r * K + k] * g;
    }
    for (var k = 0u; k < K; k++) {
      let g = -probabilities[q * K + k] / (f32(N) * dot) + lambda * (log(max(mean[k], 1e-30)) + 1.0) / f32(R);
      gradLogits[r * K + k] = params.scale * probabilities[r * K + k] * (g - pg);
    }
  }
}
