// dense_backward_bias: gradBias[o] (+)= Σ_b gradOutput[b,o].  gradOutput [B, O].
// One invocation per output feature walking the batch: adjacent invocations read adjacent features of each row.
override WG: u32 = 64;

struct Params {
  batch: u32,
  outFeatures: u32,
  accumulate: u32, // 1: gradBias += sum
}

@group(0) @binding(0) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(1) var<storage, read_write> gradBias: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o = gid.x + gid.y * groups.x * WG;
  let O = params.outFeatures;
  if (o >= O) { return; }
  var sum = 0.0;
  for (var b = 0u; b < params.batch; b++) { sum += gradOutput[b * O + o]; }
  if (params.accumulate != 0u) { sum += gradBias[o]; }
  gradBias[o] = sum;
}
