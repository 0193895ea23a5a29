// conv2d_backward_weight: the weight and bias gradients, in slices of the batch × output pixels added up by
// conv2d_backward_sum.wgsl:
//   partials[slice, o, (c,i,j)] = Σ_n,cy,cx in the slice gradY[n,o,cy,cx] · input[n,c, cy·STRIDE+i−PAD, cx·STRIDE+j−PAD] (zero outside)
//   partials[slice, o, IN_C·K·K] = Σ_n,cy,cx in the slice gradY[n,o,cy,cx]   (the bias)
// where y is the convolution. POOL = 1: gradOutput is gradY. POOL > 1: gradOutput is the gradient of y max-pooled over
// POOL×POOL windows of stride POOL_STRIDE, which flows to each window's first maximum only: found again here from input
// and weight, without the bias, which moves a whole window alike.
//
// Shapes are override constants (see conv2d_forward.wgsl); only the batch is a runtime param.
override IN_C: u32;
override OUT_C: u32;
override H: u32;
override W: u32;
override K: u32;
override STRIDE: u32;
override PAD: u32;
override POOL: u32;
override POOL_STRIDE: u32;
override WG: u32;

override CONV_H: u32 = (H + 2u * PAD - K) / STRIDE + 1u;
override CONV_W: u32 = (W + 2u * PAD - K) / STRIDE + 1u;
override OUT_H: u32 = (CONV_H - POOL) / POOL_STRIDE + 1u;
override OUT_W: u32 = (CONV_W - POOL) / POOL_STRIDE + 1u;

// Sums, weights and the input under a pool window are held in registers, at most this many values each: a workgroup
// takes up to CAPACITY taps (c, i, j), and POOL > 1 needs all of them in one group and the window to fit.
const CAPACITY = 64u;
override TAPS: u32 = IN_C * K * K;
override GROUP_TAPS: u32 = min(TAPS, CAPACITY);
override WINDOW_H: u32 = (POOL - 1u) * STRIDE + K;
override WINDOW_W: u32 = (POOL - 1u) * STRIDE + K;
// A float32 sum of up to batch × OUT_H × OUT_W terms loses far less to rounding in two levels than in one running sum.
const CHUNK = 64u;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> gradOutput: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

/** input[n, c, y, x], zero in the padding. */
fn inputAt(n: u32, c: u32, y: i32, x: i32) -> f32 {
  let inside = y >= 0 && y < i32(H) && x >= 0 && x < i32(W);
  let value = input[((n * IN_C + c) * H + u32(clamp(y, 0, i32(H) - 1))) * W + u32(clamp(x, 0, i32(W) - 1))];
  return select(0.0, value, inside);
}

// One invocation per 4 output channels, WG apart, as the components of a vec4: every memory access costs llvmpipe
// about as much as a dozen arithmetic instructions, and each input read serves all four. One workgroup per 4·WG
// channels, GROUP_TAPS taps and slice (z): its invocations walk the slice's output pixels together, so the input reads
// are the same for the whole workgroup, and each sum is one invocation's. Private arrays are indexed only in loops
// the compiler unrolls: llvmpipe reads one at a computed index lane by lane.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  // Constant when there is one group of taps.
  let firstTap = select(wid.y * GROUP_TAPS, 0u, GROUP_TAPS == TAPS);
  let channel = wid.x * 4u * WG + lid + vec4u(0u, 1u, 2u, 3u) * WG;
  // Channels past OUT_C repeat the last one and are not stored.
  let o = min(channel, vec4u(OUT_C - 1u));
  var weights = array<vec4f, CAPACITY>();
  if (POOL > 1u) {
    for (var tap = 0u; tap < TAPS; tap++) {
      weights[tap] = vec4f(weight[o.x * TAPS + tap], weight[o.y * TAPS + tap], weight[o.z * TAPS + tap], weight[o.w * TAPS + tap]);
    }
  }

  let outPlane = OUT_H * OUT_W;
  let total = params.batch * outPlane;
  let perSlice = (total + groups.z - 1u) / groups.z;
  let end = min((wid.z + 1u) * perSlice, total);
  var sums = array<vec4f, CAPACITY>();
  var biasSum = vec4f(0.0);
  for (var start = wid.z * perSlice; start < end; start += CHUNK) {
    var chunk = array<vec4f, CAPACITY>();
    var biasChunk = vec4f(0.0);
    for (var t = start; t < min(start + CHUNK, end); t++) {
      let n = t / outPlane;
      let pixel = t % outPlane;
      let top = i32((pixel / OUT_W) * POOL_STRIDE * STRIDE) - i32(PAD);
      let left = i32((pixel % OUT_W) * POOL_STRIDE * STRIDE) - i32(PAD);
      let at = (n * OUT_C + o) * outPlane + pixel;
      let g = vec4f(gradOutput[at.x], gradOutput[at.y], gradOutput[at.z], gradOutput[at.w]);
      biasChunk += g;
      if (POOL > 1u) {
        // The input under the pool window, read once; then the element (a, b) that gets the gradient, its first maximum.
        var window = array<f32, CAPACITY>();
        for (var c = 0u; c < IN_C; c++) {
          for (var r = 0u; r < WINDOW_H; r++) {
            for (var s = 0u; s < WINDOW_W; s++) { window[(c * WINDOW_H + r) * WINDOW_W + s] = inputAt(n, c, top + i32(r), left + i32(s)); }
          }
        }
        var best = vec4f(0.0);
        var bestA = vec4u(0u);
        var bestB = vec4u(0u);
        for (var a = 0u; a < POOL; a++) {
          for (var b = 0u; b < POOL; b++) {
            var sum = vec4f(0.0);
            for (var tap = 0u; tap < TAPS; tap++) {
              let c = tap / (K * K);
              let i = (tap / K) % K;
              let j = tap % K;
              sum += window[(c * WINDOW_H + a * STRIDE + i) * WINDOW_W + b * STRIDE + j] * weights[tap];
            }
            let better = vec4<bool>(a == 0u && b == 0u) | (sum > best);
            best = select(best, sum, better);
            bestA = select(bestA, vec4u(a), better);
            bestB = select(bestB, vec4u(b), better);
          }
        }
        for (var tap = 0u; tap < TAPS; tap++) {
          let c = tap / (K * K);
          let i = (tap / K) % K;
          let j = tap % K;
          var value = vec4f(0.0);
          for (var a = 0u; a < POOL; a++) {
            for (var b = 0u; b < POOL; b++) {
              value = select(value, vec4f(window[(c * WINDOW_H + a * STRIDE + i) * WINDOW_W + b * STRIDE + j]), (bestA == vec4u(a)) & (bestB == vec4u(b)));
            }
          }
          chunk[tap] += g * value;
        }
      } else {
        for (var k = 0u; k < GROUP_TAPS; k++) {
          let tap = min(firstTap + k, TAPS - 1u);
          chunk[k] += g * inputAt(n, tap / (K * K), top + i32((tap / K) % K), left + i32(tap % K));
        }
      }
    }
    for (var k = 0u; k < GROUP_TAPS; k++) { sums[k] += chunk[k]; }
    biasSum += biasChunk;
  }

  for (var q = 0u; q < 4u; q++) {
    if (channel[q] >= OUT_C) { break; }
    let row = (wid.z * OUT_C + channel[q]) * (TAPS + 1u);
    for (var k = 0u; k < GROUP_TAPS; k++) {
      if (firstTap + k < TAPS) { partials[row + firstTap + k] = sums[k][q]; }
    }
    if (wid.y == 0u) { partials[row + TAPS] = biasSum[q]; }
  }
}
