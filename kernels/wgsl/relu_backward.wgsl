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
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.count) { return; }
  dx[i] = select(0.0, dy[i], y[i] > 0.0);
}
