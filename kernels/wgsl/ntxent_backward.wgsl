// ntxent_backward: gradZ = scale·∂(Σ_i loss_i)/∂z for ntxent_loss, from its probabilities p and norms:
//   G_i = (1/τ)·(Σ_{j≠i} (p_ij + p_ji)·u_j − 2·u_pos(i))           (∂Σloss/∂u_i: row i's term and every row j's)
//   gradZ_i = scale·(G_i − (G_i·u_i)·u_i) / |z_i|                 (through u_i = z_i / |z_i|)
// One invocation per row: G_i is written to gradZ first, then projected in place.
override WG: u32 = 64;

struct Params {
  rows: u32,
  dim: u32,
  inverseTemperature: f32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> probabilities: array<f32>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read_write> gradZ: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  let R = params.rows;
  let D = params.dim;
  if (i >= R) { return; }
  let positive = (i + R / 2u) % R;
  let ni = norms[i];
  var radial = 0.0;
  for (var d = 0u; d < D; d++) {
    var g = 0.0;
    for (var j = 0u; j < R; j++) {
      if (j == i) { continue; }
      var c = probabilities[i * R + j] + probabilities[j * R + i];
      if (j == positive) { c -= 2.0; }
      g += c * z[j * D + d] / norms[j];
    }
    gradZ[i * D + d] = g;
    radial += g * z[i * D + d];
  }
  radial /= ni;
  let factor = params.scale * params.inverseTemperature / ni;
  for (var d = 0u; d < D; d++) { gradZ[i * D + d] = factor * (gradZ[i * D + d] - radial * z[i * D + d] / ni); }
}
