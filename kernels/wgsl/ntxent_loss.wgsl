// ntxent_loss: SimCLR's normalised-temperature cross-entropy on 2N embeddings z [2N, D], rows i and (i + N) mod 2N
// being two views of one image:
//   u_i = z_i / |z_i|,  s_ij = u_i·u_j / τ
//   p_ij = exp(s_ij) / Σ_{k≠i} exp(s_ik) for j ≠ i, p_ii = 0
//   loss_i = −log p_i,pos(i)
// Writes p (for ntxent_backward) and |z_i|. One invocation per row; each recomputes the norms it reads (D is small).
override WG: u32 = 64;

struct Params {
  rows: u32,
  dim: u32,
  inverseTemperature: f32,
}

@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> probabilities: array<f32>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

fn norm_of(row: u32) -> f32 {
  var sum = 0.0;
  for (var d = 0u; d < params.dim; d++) { let v = z[row * params.dim + d]; sum += v * v; }
  return max(sqrt(sum), 1e-12);
}

fn cosine(i: u32, j: u32, ni: f32, nj: f32) -> f32 {
  var dot = 0.0;
  for (var d = 0u; d < params.dim; d++) { dot += z[i * params.dim + d] * z[j * params.dim + d]; }
  return dot / (ni * nj);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  let R = params.rows;
  if (i >= R) { return; }
  let half = R / 2u;
  let positive = (i + half) % R;
  let ni = norm_of(i);
  norms[i] = ni;
  // Cosines are at most 1: exp(s − 1/τ) never overflows.
  var total = 0.0;
  for (var j = 0u; j < R; j++) {
    if (j == i) { probabilities[i * R + j] = 0.0; continue; }
    let e = exp((cosine(i, j, ni, norm_of(j)) - 1.0) * params.inverseTemperature);
    probabilities[i * R + j] = e;
    total += e;
  }
  for (var j = 0u; j < R; j++) { probabilities[i * R + j] /= total; }
  loss[i] = -log(probabilities[i * R + positive]);
}
