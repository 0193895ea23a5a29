// maxpool2d_forward: output[n,c,y,x] = max_i,j input[n,c, y·stride+i, x·stride+j]; argmax = flat input index of the first max
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

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

// Each workgroup covers WG output pixels of one (n, c) plane.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let outPlane = params.outHeight * params.outWidth;
  let tiles = (outPlane + WG - 1u) / WG;
  let group = wid.x + wid.y * groups.x;
  let plane = group / tiles;
  let pixel = (group % tiles) * WG + lid;
  if (plane >= params.planes || pixel >= outPlane) { return; }
  let top = (pixel / params.outWidth) * params.stride;
  let left = (pixel % params.outWidth) * params.stride;
  let first = plane * params.height * params.width + top * params.width + left;
  var best = input[first];
  var bestIndex = first;
  for (var i = 0u; i < params.kernelSize; i++) {
    for (var j = 0u; j < params.kernelSize; j++) {
      let at = first + i * params.width + j;
      let value = input[at];
      // Strictly greater: on ties the first in row-major window order wins.
      let better = value > best;
      best = select(best, value, better);
      bestIndex = select(bestIndex, at, better);
    }
  }
  let index = plane * outPlane + pixel;
  output[index] = best;
  argmax[index] = bestIndex;
}
