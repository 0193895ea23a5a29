// conv2d_forward: y[n,o,cy,cx] = bias[o] + Σ_c,i,j input[n,c, cy·STRIDE+i−PAD, cx·STRIDE+j−PAD] · weight[o,c,i,j] (zero outside),
// then max(y, 0) if RELU; output = y max-pooled over POOL×POOL windows of stride POOL_STRIDE (POOL = 1: output = y)
//
// Shapes are override constants: llvmpipe (the CPU driver) divides by a runtime value one SIMD lane at a time and by
// a constant with a multiply. Only the batch is a runtime param.
override IN_C: u32;
override OUT_C: u32;
override H: u32;
override W: u32;
override K: u32;
override STRIDE: u32;
override PAD: u32;
override RELU: bool;
override POOL: u32;
override POOL_STRIDE: u32;
// Output pixels per invocation, side by side in a row.
override STRIP: u32;
override WG: u32;

// y's size, then the output's.
override CONV_H: u32 = (H + 2u * PAD - K) / STRIDE + 1u;
override CONV_W: u32 = (W + 2u * PAD - K) / STRIDE + 1u;
override OUT_H: u32 = (CONV_H - POOL) / POOL_STRIDE + 1u;
override OUT_W: u32 = (CONV_W - POOL) / POOL_STRIDE + 1u;
override STRIPS: u32 = (OUT_W + STRIP - 1u) / STRIP;

// Every memory access costs llvmpipe about as much as a dozen arithmetic instructions, so an invocation reads the
// input under its whole strip (all channels) into registers once, when it fits, and each output channel's weights
// once for the strip.
const TILE_CAPACITY = 64u;
override TILE_H: u32 = (POOL - 1u) * STRIDE + K;
override TILE_W: u32 = ((STRIP - 1u) * POOL_STRIDE + POOL - 1u) * STRIDE + K;
override TILED: bool = IN_C * TILE_H * TILE_W <= TILE_CAPACITY;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

/** input[n, c, y, x], zero in the padding. */
fn inputAt(n: u32, c: u32, y: i32, x: i32) -> f32 {
  let inside = y >= 0 && y < i32(H) && x >= 0 && x < i32(W);
  // The clamped read keeps every load in bounds without branching.
  let value = input[((n * IN_C + c) * H + u32(clamp(y, 0, i32(H) - 1))) * W + u32(clamp(x, 0, i32(W) - 1))];
  return select(0.0, value, inside);
}

// One invocation per STRIP output pixels (n, oy, ox...) looping over the output channels: the weights, the same for
// every invocation, are scalar loads.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let outPlane = OUT_H * OUT_W;
  let taps = IN_C * K * K;
  for (var t = wid.x * WG + lid; t < params.batch * OUT_H * STRIPS; t += groups.x * WG) {
    let n = t / (OUT_H * STRIPS);
    let oy = (t / STRIPS) % OUT_H;
    let firstX = (t % STRIPS) * STRIP;
    let top = i32(oy * POOL_STRIDE * STRIDE) - i32(PAD);
    let left = i32(firstX * POOL_STRIDE * STRIDE) - i32(PAD);
    var tile = array<f32, TILE_CAPACITY>();
    if (TILED) {
      for (var c = 0u; c < IN_C; c++) {
        for (var r = 0u; r < TILE_H; r++) {
          for (var s = 0u; s < TILE_W; s++) { tile[(c * TILE_H + r) * TILE_W + s] = inputAt(n, c, top + i32(r), left + i32(s)); }
        }
      }
    }
    for (var o = 0u; o < OUT_C; o++) {
      var weights = array<f32, TILE_CAPACITY>();
      if (TILED) {
        for (var tap = 0u; tap < taps; tap++) { weights[tap] = weight[o * taps + tap]; }
      }
      let b0 = bias[o];
      for (var p = 0u; p < STRIP; p++) {
        var best = 0.0;
        for (var a = 0u; a < POOL; a++) {
          for (var b = 0u; b < POOL; b++) {
            // Tile coordinates of this window element's top-left tap.
            let row = a * STRIDE;
            let col = (p * POOL_STRIDE + b) * STRIDE;
            var sum = b0;
            for (var c = 0u; c < IN_C; c++) {
              for (var i = 0u; i < K; i++) {
                for (var j = 0u; j < K; j++) {
                  let tap = (c * K + i) * K + j;
                  if (TILED) {
                    sum += tile[(c * TILE_H + row + i) * TILE_W + col + j] * weights[tap];
                  } else {
                    sum += inputAt(n, c, top + i32(row + i), left + i32(col + j)) * weight[o * taps + tap];
                  }
                }
              }
            }
            best = select(max(best, sum), sum, a == 0u && b == 0u);
          }
        }
        // A strip may run past the row's end (OUT_W not a multiple of STRIP): those pixels are not stored.
        if (firstX + p < OUT_W) {
          output[(n * OUT_C + o) * outPlane + oy * OUT_W + firstX + p] = select(best, max(best, 0.0), RELU);
        }
      }
    }
  }
}
