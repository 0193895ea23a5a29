// maxpool2d_backward: gradInput[p] = Σ over windows w covering p with argmax[w] == p of gradOutput[w]
//
// Shapes are override constants (see maxpool2d_forward.wgsl); only the number of planes is a runtime param.
override H: u32;
override W: u32;
override K: u32;
override STRIDE: u32;
override WG: u32;

override OUT_H: u32 = (H - K) / STRIDE + 1u;
override OUT_W: u32 = (W - K) / STRIDE + 1u;
// At most this many windows overlap in each direction.
override REACH: u32 = (K + STRIDE - 1u) / STRIDE;

struct Params {
  planes: u32,
}

@group(0) @binding(0) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> gradInput: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// A gather, so overlapping windows (stride < kernel) need no atomics: each input pixel sums the windows that chose it.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let inPlane = H * W;
  for (var index = wid.x * WG + lid; index < params.planes * inPlane; index += groups.x * WG) {
    let plane = index / inPlane;
    let pixel = index % inPlane;
    let y = pixel / W;
    let x = pixel % W;
    let outBase = plane * OUT_H * OUT_W;
    var sum = 0.0;
    // Windows covering (y, x) are those with oy·STRIDE ≤ y < oy·STRIDE + K: the last one starts at or before y, and
    // at most REACH of them end after it.
    for (var a = 0u; a < REACH; a++) {
      let oy = i32(y / STRIDE) - i32(a);
      for (var b = 0u; b < REACH; b++) {
        let ox = i32(x / STRIDE) - i32(b);
        let covers = oy >= 0 && oy < i32(OUT_H) && u32(oy) * STRIDE + K > y && ox >= 0 && ox < i32(OUT_W) && u32(ox) * STRIDE + K > x;
        // The clamped window keeps every load in bounds without branching.
        let window = outBase + u32(clamp(oy, 0, i32(OUT_H) - 1)) * OUT_W + u32(clamp(ox, 0, i32(OUT_W) - 1));
        sum += select(0.0, gradOutput[window], covers && argmax[window] == index);
      }
    }
    gradInput[index] = sum;
  }
}
