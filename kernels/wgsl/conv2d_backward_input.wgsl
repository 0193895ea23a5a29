// conv2d_backward_input: gradInput[n,c,y,x] = Σ_o,i,j gradOutput[n,o, (y+PAD−i)/STRIDE, (x+PAD−j)/STRIDE] · weight[o,c,i,j] over taps that divide exactly and land inside the output
//
// Shapes are override constants (see conv2d_forward.wgsl); only the batch is a runtime param.
override IN_C: u32;
override OUT_C: u32;
override H: u32;
override W: u32;
override K: u32;
override STRIDE: u32;
override PAD: u32;
override WG: u32;

override OUT_H: u32 = (H + 2u * PAD - K) / STRIDE + 1u;
override OUT_W: u32 = (W + 2u * PAD - K) / STRIDE + 1u;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradInput: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// A gather: each invocation owns one input pixel. Each workgroup covers WG pixels of one (n, c) input plane,
// so the weight reads are the same for the whole workgroup.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let inPlane = H * W;
  let tiles = (inPlane + WG - 1u) / WG;
  let group = wid.x + wid.y * groups.x;
  let plane = group / tiles;
  let pixel = (group % tiles) * WG + lid;
  if (plane >= params.batch * IN_C || pixel >= inPlane) { return; }
  let n = plane / IN_C;
  let c = plane % IN_C;
  let outPlane = OUT_H * OUT_W;
  let y = pixel / W + PAD;
  let x = pixel % W + PAD;
  var sum = 0.0;
  // Output channels outermost: unrolling them (which does not pay) would take llvmpipe seconds to compile.
  for (var o = 0u; o < OUT_C; o++) {
    for (var i = 0u; i < K; i++) {
      // Tap (i, j) of window (oy, ox) reads this pixel when (oy·STRIDE, ox·STRIDE) = (y + PAD − i, x + PAD − j).
      let windowTop = i32(y) - i32(i);
      for (var j = 0u; j < K; j++) {
        let windowLeft = i32(x) - i32(j);
        let oy = u32(max(windowTop, 0)) / STRIDE;
        let ox = u32(max(windowLeft, 0)) / STRIDE;
        let hit = windowTop >= 0 && windowLeft >= 0 && u32(windowTop) % STRIDE == 0u && u32(windowLeft) % STRIDE == 0u && oy < OUT_H && ox < OUT_W;
        // The clamped offset keeps every load in bounds without branching; taps that miss count as zero.
        let g = gradOutput[(n * OUT_C + o) * outPlane + min(oy, OUT_H - 1u) * OUT_W + min(ox, OUT_W - 1u)];
        sum += select(0.0, g, hit) * weight[((o * IN_C + c) * K + i) * K + j];
      }
    }
  }
  gradInput[plane * inPlane + pixel] = sum;
}
