// conv2d_backward_input: gradInput[n,c,y,x] = Σ_o,i,j gradOutput[n,o, (y+pad−i)/stride, (x+pad−j)/stride] · weight[o,c,i,j] over taps that divide exactly and land inside the output
override WG: u32 = 64;

struct Params {
  batch: u32,
  inChannels: u32,
  outChannels: u32,
  height: u32,
  width: u32,
  kernelSize: u32,
  stride: u32,
  padding: u32,
  outHeight: u32,
  outWidth: u32,
}

@group(0) @binding(0) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradInput: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// A gather: each invocation owns one input pixel. Each workgroup covers WG pixels of one (n, c) input plane,
// so the weight reads are the same for the whole workgroup.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let inPlane = params.height * params.width;
  let tiles = (inPlane + WG - 1u) / WG;
  let group = wid.x + wid.y * groups.x;
  let plane = group / tiles;
  let pixel = (group % tiles) * WG + lid;
  if (plane >= params.batch * params.inChannels || pixel >= inPlane) { return; }
  let n = plane / params.inChannels;
  let c = plane % params.inChannels;
  let k = params.kernelSize;
  let s = params.stride;
  let outH = i32(params.outHeight);
  let outW = i32(params.outWidth);
  let outPlane = params.outHeight * params.outWidth;
  // Tap (i, j) of window (oy, ox) reads this pixel when oy·stride = y + pad − i: (oy, remainder) start at i = 0 and
  // step down with i, so the stride divides once per pixel instead of once per tap.
  let y = pixel / params.width + params.padding;
  let x = pixel % params.width + params.padding;
  var oy = i32(y / s);
  var remainderY = y % s;
  let firstOx = i32(x / s);
  let firstRemainderX = x % s;
  var sum = 0.0;
  for (var i = 0u; i < k; i++) {
    var ox = firstOx;
    var remainderX = firstRemainderX;
    for (var j = 0u; j < k; j++) {
      let hit = remainderY == 0u && oy >= 0 && oy < outH && remainderX == 0u && ox >= 0 && ox < outW;
      // The clamped offset keeps every load in bounds without branching; taps that miss count as zero.
      let offset = u32(clamp(oy, 0, outH - 1) * outW + clamp(ox, 0, outW - 1));
      for (var o = 0u; o < params.outChannels; o++) {
        let g = gradOutput[(n * params.outChannels + o) * outPlane + offset];
        sum += select(0.0, g, hit) * weight[((o * params.inChannels + c) * k + i) * k + j];
      }
      let borrowX = remainderX == 0u;
      remainderX = select(remainderX - 1u, s - 1u, borrowX);
      ox -= select(0, 1, borrowX);
    }
    let borrowY = remainderY == 0u;
    remainderY = select(remainderY - 1u, s - 1u, borrowY);
    oy -= select(0, 1, borrowY);
  }
  gradInput[plane * inPlane + pixel] = sum;
}
