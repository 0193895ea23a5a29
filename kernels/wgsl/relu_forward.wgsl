// relu_forward: y[i] = max(x[i], 0)
override WG: u32 = 64;

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  for (var i = wid.x * WG + lid; i < params.count; i += groups.x * WG) {
    y[i] = max(x[i], 0.0);
  }
}
