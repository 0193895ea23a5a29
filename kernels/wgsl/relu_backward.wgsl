// relu_backward: dx[i] = dy[i] if y[i] > 0 else 0, where y = relu(x) is the forward output
override WG: u32 = 64;

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  for (var i = wid.x * WG + lid; i < params.count; i += groups.x * WG) {
    dx[i] = select(0.0, dy[i], y[i] > 0.0);
  }
}
