// maxpool2d_backward: gradInput[p] = Σ over windows w covering p with argmax[w] == p of gradOutput[w]
override WG: u32 = 64;

struct Params {
  planes: u32,
  height: u32,
  width: u32,
  kernelSize: u32,
  stride: u32,
  outHeight: u32,
  outWidth: u32,
}

@group(0) @binding(0) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> gradInput: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// A gather, so overlapping windows (stride < kernel) need no atomics: each input pixel sums the windows that chose it.
// Each workgroup covers WG pixels of one (n, c) plane.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let inPlane = params.height * params.width;
  let tiles = (inPlane + WG - 1u) / WG;
  let group = wid.x + wid.y * groups.x;
  let plane = group / tiles;
  let pixel = (group % tiles) * WG + lid;
  if (plane >= params.planes || pixel >= inPlane) { return; }
  let index = plane * inPlane + pixel;
  let y = pixel / params.width;
  let x = pixel % params.width;
  let k = params.kernelSize;
  let s = params.stride;
  let outBase = plane * params.outHeight * params.outWidth;
  let lastX = i32(min(x / s, params.outWidth - 1u));
  var sum = 0.0;
  // Windows covering (y, x) are those with oy·stride ≤ y < oy·stride + k: walk down from the last one.
  for (var oy = i32(min(y / s, params.outHeight - 1u)); oy >= 0 && u32(oy) * s + k > y; oy--) {
    for (var ox = lastX; ox >= 0 && u32(ox) * s + k > x; ox--) {
      let window = outBase + u32(oy) * params.outWidth + u32(ox);
      sum += select(0.0, gradOutput[window], argmax[window] == index);
    }
  }
  gradInput[index] = sum;
}
