;; The edge's inference kernels in WebAssembly with 128-bit SIMD: convolution (with its ReLU and max pool fused), max
;; pool, ReLU and a dense layer.
;; `runtime/src/engine/wasm_engine.ts` plans the network, lays the weights out and calls these; `pnpm build:wasm`
;; assembles this file into simd_engine.wasm (wabt), and a test fails when the two differ.
;;
;; Layout: an image activation is channels-last, [y, x, channel], each pixel padded to a multiple of 4 channels
;; (the network's input pixel may hold 1); a flat activation is [feature], padded to a multiple of 4. Padding lanes
;; hold zeros and their weights are zero. Pointers and sizes are in bytes unless named a count. Sums are f32.
(module
  (memory (export "memory") 1)

  ;; out[n, oy, ox, oc] = max(floor, bias[oc] + Σ x[n, iy, ix, ic] · weight[ky, kx, ic, oc]) over the window's taps.
  ;; weight is [ky][kx][ic < cin][oc < o4]; cin is the input's channels per pixel, o4 the output's (a multiple of 4).
  ;; Zero inputs (a digit's background) are skipped; 32 output channels are summed in registers at a time.
  ;; With a max pool fused (pk×pk windows, stride ps; pk = ps = 1 when none), (oy, ox) is a pooled pixel: it starts at
  ;; the floor and takes the max of the convolution at each (oy·ps + wy, ox·ps + wx) of its window, so the unpooled
  ;; activation is never written. The caller fuses only windows that do not overlap (ps ≥ pk): nothing is summed twice.
  (func (export "conv2d")
    (param $x i32) (param $batch i32) (param $h i32) (param $w i32) (param $cin i32)
    (param $weight i32) (param $bias i32) (param $o4 i32) (param $k i32) (param $stride i32) (param $pad i32)
    (param $oh i32) (param $ow i32) (param $out i32) (param $relu i32) (param $pk i32) (param $ps i32)
    (local $n i32) (local $oy i32) (local $ox i32) (local $oc i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $ic i32) (local $px i32) (local $wp i32) (local $optr i32)
    (local $xbase i32) (local $rowBytes i32) (local $v f32) (local $s v128) (local $floor v128)
    (local $wy i32) (local $wx i32) (local $cy i32) (local $cx i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $floor (if (result v128) (local.get $relu) (then (v128.const f32x4 0 0 0 0)) (else (f32x4.splat (f32.const -inf)))))
    ;; one weight row (ic) is o4 floats, as is one output pixel
    (local.set $rowBytes (i32.shl (local.get $o4) (i32.const 2)))
    (local.set $optr (local.get $out))
    (block $batchDone (loop $eachImage
      (br_if $batchDone (i32.ge_u (local.get $n) (local.get $batch)))
      (local.set $xbase (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n) (i32.mul (i32.mul (local.get $h) (local.get $w)) (local.get $cin))) (i32.const 2))))
      (local.set $oy (i32.const 0))
      (loop $eachRow
        (local.set $ox (i32.const 0))
        (loop $eachColumn
          ;; the output pixel starts at the floor; each convolution output of its window is max-ed into it
          (local.set $oc (i32.const 0))
          (loop $init
            (v128.store (i32.add (local.get $optr) (local.get $oc)) (local.get $floor))
            (br_if $init (i32.lt_u (local.tee $oc (i32.add (local.get $oc) (i32.const 16))) (local.get $rowBytes))))
          (local.set $wy (i32.const 0))
          (loop $eachWy
            (local.set $cy (i32.add (i32.mul (local.get $oy) (local.get $ps)) (local.get $wy)))
            (local.set $wx (i32.const 0))
            (loop $eachWx
              (local.set $cx (i32.add (i32.mul (local.get $ox) (local.get $ps)) (local.get $wx)))
              (local.set $oc (i32.const 0))
              ;; 32 channels at a time
              (block $wideDone (loop $wide
                (br_if $wideDone (i32.gt_u (i32.add (local.get $oc) (i32.const 32)) (local.get $o4)))
                (local.set $wp (i32.add (local.get $bias) (i32.shl (local.get $oc) (i32.const 2))))
                (local.set $a0 (v128.load offset=0 (local.get $wp)))
                (local.set $a1 (v128.load offset=16 (local.get $wp)))
                (local.set $a2 (v128.load offset=32 (local.get $wp)))
                (local.set $a3 (v128.load offset=48 (local.get $wp)))
                (local.set $a4 (v128.load offset=64 (local.get $wp)))
                (local.set $a5 (v128.load offset=80 (local.get $wp)))
                (local.set $a6 (v128.load offset=96 (local.get $wp)))
                (local.set $a7 (v128.load offset=112 (local.get $wp)))
                (local.set $ky (i32.const 0))
                (loop $eachKy
                  (local.set $iy (i32.add (i32.sub (i32.mul (local.get $cy) (local.get $stride)) (local.get $pad)) (local.get $ky)))
                  ;; unsigned: a row above the image is out of range too
                  (if (i32.lt_u (local.get $iy) (local.get $h)) (then
                    (local.set $kx (i32.const 0))
                    (loop $eachKx
                      (local.set $ix (i32.add (i32.sub (i32.mul (local.get $cx) (local.get $stride)) (local.get $pad)) (local.get $kx)))
                      (if (i32.lt_u (local.get $ix) (local.get $w)) (then
                        (local.set $px (i32.add (local.get $xbase) (i32.shl (i32.mul (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (local.get $cin)) (i32.const 2))))
                        (local.set $wp (i32.add (local.get $weight) (i32.shl (i32.add (i32.mul (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $k)) (local.get $kx)) (local.get $cin)) (local.get $o4)) (local.get $oc)) (i32.const 2))))
                        (local.set $ic (i32.const 0))
                        (loop $eachIc
                          (local.set $v (f32.load (local.get $px)))
                          (if (f32.ne (local.get $v) (f32.const 0)) (then
                            (local.set $s (f32x4.splat (local.get $v)))
                            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load offset=0 (local.get $wp)))))
                            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wp)))))
                            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $wp)))))
                            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $wp)))))
                            (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (v128.load offset=64 (local.get $wp)))))
                            (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (v128.load offset=80 (local.get $wp)))))
                            (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (v128.load offset=96 (local.get $wp)))))
                            (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (v128.load offset=112 (local.get $wp)))))))
                          (local.set $px (i32.add (local.get $px) (i32.const 4)))
                          (local.set $wp (i32.add (local.get $wp) (local.get $rowBytes)))
                          (br_if $eachIc (i32.lt_u (local.tee $ic (i32.add (local.get $ic) (i32.const 1))) (local.get $cin))))))
                      (br_if $eachKx (i32.lt_u (local.tee $kx (i32.add (local.get $kx) (i32.const 1))) (local.get $k))))))
                  (br_if $eachKy (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $k))))
                (local.set $wp (i32.add (local.get $optr) (i32.shl (local.get $oc) (i32.const 2))))
                (v128.store offset=0 (local.get $wp) (f32x4.max (v128.load offset=0 (local.get $wp)) (local.get $a0)))
                (v128.store offset=16 (local.get $wp) (f32x4.max (v128.load offset=16 (local.get $wp)) (local.get $a1)))
                (v128.store offset=32 (local.get $wp) (f32x4.max (v128.load offset=32 (local.get $wp)) (local.get $a2)))
                (v128.store offset=48 (local.get $wp) (f32x4.max (v128.load offset=48 (local.get $wp)) (local.get $a3)))
                (v128.store offset=64 (local.get $wp) (f32x4.max (v128.load offset=64 (local.get $wp)) (local.get $a4)))
                (v128.store offset=80 (local.get $wp) (f32x4.max (v128.load offset=80 (local.get $wp)) (local.get $a5)))
                (v128.store offset=96 (local.get $wp) (f32x4.max (v128.load offset=96 (local.get $wp)) (local.get $a6)))
                (v128.store offset=112 (local.get $wp) (f32x4.max (v128.load offset=112 (local.get $wp)) (local.get $a7)))
                (local.set $oc (i32.add (local.get $oc) (i32.const 32)))
                (br $wide)))
              ;; the rest, 4 channels at a time
              (block $narrowDone (loop $narrow
                (br_if $narrowDone (i32.ge_u (local.get $oc) (local.get $o4)))
                (local.set $a0 (v128.load (i32.add (local.get $bias) (i32.shl (local.get $oc) (i32.const 2)))))
                (local.set $ky (i32.const 0))
                (loop $eachKy4
                  (local.set $iy (i32.add (i32.sub (i32.mul (local.get $cy) (local.get $stride)) (local.get $pad)) (local.get $ky)))
                  (if (i32.lt_u (local.get $iy) (local.get $h)) (then
                    (local.set $kx (i32.const 0))
                    (loop $eachKx4
                      (local.set $ix (i32.add (i32.sub (i32.mul (local.get $cx) (local.get $stride)) (local.get $pad)) (local.get $kx)))
                      (if (i32.lt_u (local.get $ix) (local.get $w)) (then
                        (local.set $px (i32.add (local.get $xbase) (i32.shl (i32.mul (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (local.get $cin)) (i32.const 2))))
                        (local.set $wp (i32.add (local.get $weight) (i32.shl (i32.add (i32.mul (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $k)) (local.get $kx)) (local.get $cin)) (local.get $o4)) (local.get $oc)) (i32.const 2))))
                        (local.set $ic (i32.const 0))
                        (loop $eachIc4
                          (local.set $v (f32.load (local.get $px)))
                          (if (f32.ne (local.get $v) (f32.const 0)) (then
                            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.splat (local.get $v)) (v128.load (local.get $wp)))))))
                          (local.set $px (i32.add (local.get $px) (i32.const 4)))
                          (local.set $wp (i32.add (local.get $wp) (local.get $rowBytes)))
                          (br_if $eachIc4 (i32.lt_u (local.tee $ic (i32.add (local.get $ic) (i32.const 1))) (local.get $cin))))))
                      (br_if $eachKx4 (i32.lt_u (local.tee $kx (i32.add (local.get $kx) (i32.const 1))) (local.get $k))))))
                  (br_if $eachKy4 (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $k))))
                (local.set $wp (i32.add (local.get $optr) (i32.shl (local.get $oc) (i32.const 2))))
                (v128.store (local.get $wp) (f32x4.max (v128.load (local.get $wp)) (local.get $a0)))
                (local.set $oc (i32.add (local.get $oc) (i32.const 4)))
                (br $narrow)))
              (br_if $eachWx (i32.lt_u (local.tee $wx (i32.add (local.get $wx) (i32.const 1))) (local.get $pk))))
            (br_if $eachWy (i32.lt_u (local.tee $wy (i32.add (local.get $wy) (i32.const 1))) (local.get $pk))))
          (local.set $optr (i32.add (local.get $optr) (local.get $rowBytes)))
          (br_if $eachColumn (i32.lt_u (local.tee $ox (i32.add (local.get $ox) (i32.const 1))) (local.get $ow))))
        (br_if $eachRow (i32.lt_u (local.tee $oy (i32.add (local.get $oy) (i32.const 1))) (local.get $oh))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $eachImage))))

  ;; out[n, oy, ox, c] = max over the k×k window of x[n, ·, ·, c]; c4 channels per pixel (a multiple of 4).
  (func (export "maxpool2d")
    (param $x i32) (param $batch i32) (param $h i32) (param $w i32) (param $c4 i32)
    (param $k i32) (param $stride i32) (param $oh i32) (param $ow i32) (param $out i32)
    (local $n i32) (local $oy i32) (local $ox i32) (local $c i32) (local $ky i32) (local $kx i32)
    (local $xbase i32) (local $corner i32) (local $p i32) (local $m v128)
    (local.set $n (i32.const 0))
    (block $batchDone (loop $eachImage
      (br_if $batchDone (i32.ge_u (local.get $n) (local.get $batch)))
      (local.set $xbase (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n) (i32.mul (i32.mul (local.get $h) (local.get $w)) (local.get $c4))) (i32.const 2))))
      (local.set $oy (i32.const 0))
      (loop $eachRow
        (local.set $ox (i32.const 0))
        (loop $eachColumn
          (local.set $corner (i32.add (local.get $xbase) (i32.shl (i32.mul (i32.add (i32.mul (i32.mul (local.get $oy) (local.get $stride)) (local.get $w)) (i32.mul (local.get $ox) (local.get $stride))) (local.get $c4)) (i32.const 2))))
          (local.set $c (i32.const 0))
          (loop $eachBlock
            (local.set $m (f32x4.splat (f32.const -inf)))
            (local.set $ky (i32.const 0))
            (loop $eachKy
              (local.set $kx (i32.const 0))
              (loop $eachKx
                (local.set $p (i32.add (local.get $corner) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $w)) (local.get $kx)) (local.get $c4)) (local.get $c)) (i32.const 2))))
                (local.set $m (f32x4.max (local.get $m) (v128.load (local.get $p))))
                (br_if $eachKx (i32.lt_u (local.tee $kx (i32.add (local.get $kx) (i32.const 1))) (local.get $k))))
              (br_if $eachKy (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $k))))
            (v128.store (local.get $out) (local.get $m))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (br_if $eachBlock (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 4))) (local.get $c4))))
          (br_if $eachColumn (i32.lt_u (local.tee $ox (i32.add (local.get $ox) (i32.const 1))) (local.get $ow))))
        (br_if $eachRow (i32.lt_u (local.tee $oy (i32.add (local.get $oy) (i32.const 1))) (local.get $oh))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $eachImage))))

  ;; x[i] = max(x[i], 0) for `count` floats, rounded up to a multiple of 4 (buffers carry the slack).
  (func $relu (export "relu") (param $x i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $count) (i32.const 2))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (v128.store (local.get $x) (f32x4.max (v128.load (local.get $x)) (v128.const f32x4 0 0 0 0)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (br $each))))

  ;; out[n, o] = bias[o] + Σ_i (x[n, i] − baseline[i]) · weight[i, o], then ReLU if asked, for o < o4 (a multiple
  ;; of 4); weight is [in][o4]. The caller folds weight·baseline into bias: the baseline is this layer's input for an
  ;; all-zero image, which a digit's features mostly equal, so each image first lists its differing inputs
  ;; (8 bytes each at list + n·in·8: the difference and its weight row's address; meta holds each list's cursor
  ;; and end). Then, tiled: the weight rows are taken `block` at a time, and every image of the batch adds its
  ;; listed inputs from that block while those rows are in cache, 32 outputs in registers at a time.
  (func (export "dense")
    (param $x i32) (param $batch i32) (param $in i32) (param $weight i32) (param $bias i32) (param $baseline i32)
    (param $o4 i32) (param $out i32) (param $relu i32) (param $list i32) (param $meta i32) (param $block i32)
    (local $n i32) (local $i i32) (local $xp i32) (local $e i32) (local $end i32) (local $begin i32) (local $d f32)
    (local $rowBytes i32) (local $orow i32) (local $oc i32) (local $limit i32) (local $b0 i32) (local $wp i32) (local $j i32)
    (local $s v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $rowBytes (i32.shl (local.get $o4) (i32.const 2)))
    ;; each image's list of differing inputs, and its output row set to the bias
    (local.set $n (i32.const 0))
    (block $listsDone (loop $eachImage
      (br_if $listsDone (i32.ge_u (local.get $n) (local.get $batch)))
      (local.set $xp (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n) (local.get $in)) (i32.const 2))))
      (local.set $e (i32.add (local.get $list) (i32.shl (i32.mul (local.get $n) (local.get $in)) (i32.const 3))))
      (i32.store (i32.add (local.get $meta) (i32.shl (local.get $n) (i32.const 3))) (local.get $e))
      (local.set $i (i32.const 0))
      (block $scanDone (loop $scan
        (br_if $scanDone (i32.ge_u (local.get $i) (local.get $in)))
        ;; four at a time, past equal groups (a NaN differs, so it reaches the sums)
        (if (i32.and
              (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $in))
              (i32.eqz (v128.any_true (f32x4.ne
                (v128.load (i32.add (local.get $xp) (i32.shl (local.get $i) (i32.const 2))))
                (v128.load (i32.add (local.get $baseline) (i32.shl (local.get $i) (i32.const 2))))))))
          (then (local.set $i (i32.add (local.get $i) (i32.const 4))) (br $scan)))
        (local.set $end (select (i32.add (local.get $i) (i32.const 4)) (local.get $in) (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $in))))
        (loop $each
          (local.set $d (f32.sub
            (f32.load (i32.add (local.get $xp) (i32.shl (local.get $i) (i32.const 2))))
            (f32.load (i32.add (local.get $baseline) (i32.shl (local.get $i) (i32.const 2))))))
          (if (f32.ne (local.get $d) (f32.const 0)) (then
            (f32.store (local.get $e) (local.get $d))
            (i32.store offset=4 (local.get $e) (i32.add (local.get $weight) (i32.mul (local.get $i) (local.get $rowBytes))))
            (local.set $e (i32.add (local.get $e) (i32.const 8)))))
          (br_if $each (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $end))))
        (br $scan)))
      (i32.store offset=4 (i32.add (local.get $meta) (i32.shl (local.get $n) (i32.const 3))) (local.get $e))
      (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $n) (local.get $rowBytes))))
      (local.set $oc (i32.const 0))
      (loop $copyBias
        (v128.store (i32.add (local.get $orow) (local.get $oc)) (v128.load (i32.add (local.get $bias) (local.get $oc))))
        (br_if $copyBias (i32.lt_u (local.tee $oc (i32.add (local.get $oc) (i32.const 16))) (local.get $rowBytes))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $eachImage)))
    ;; the sums, a block of weight rows at a time
    (local.set $b0 (i32.const 0))
    (block $blocksDone (loop $eachBlock
      (br_if $blocksDone (i32.ge_u (local.get $b0) (local.get $in)))
      (local.set $limit (i32.add (local.get $weight) (i32.mul (i32.add (local.get $b0) (local.get $block)) (local.get $rowBytes))))
      (local.set $n (i32.const 0))
      (block $imagesDone (loop $eachImage2
        (br_if $imagesDone (i32.ge_u (local.get $n) (local.get $batch)))
        (local.set $begin (i32.load (i32.add (local.get $meta) (i32.shl (local.get $n) (i32.const 3)))))
        (local.set $e (i32.load offset=4 (i32.add (local.get $meta) (i32.shl (local.get $n) (i32.const 3)))))
        (local.set $end (local.get $begin))
        (block $found (loop $advance
          (br_if $found (i32.ge_u (local.get $end) (local.get $e)))
          (br_if $found (i32.ge_u (i32.load offset=4 (local.get $end)) (local.get $limit)))
          (local.set $end (i32.add (local.get $end) (i32.const 8)))
          (br $advance)))
        (i32.store (i32.add (local.get $meta) (i32.shl (local.get $n) (i32.const 3))) (local.get $end))
        (if (i32.gt_u (local.get $end) (local.get $begin)) (then
          (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $n) (local.get $rowBytes))))
          (local.set $oc (i32.const 0))
          (block $wideDone (loop $wide
            (br_if $wideDone (i32.gt_u (i32.add (local.get $oc) (i32.const 128)) (local.get $rowBytes)))
            (local.set $wp (i32.add (local.get $orow) (local.get $oc)))
            (local.set $a0 (v128.load offset=0 (local.get $wp)))
            (local.set $a1 (v128.load offset=16 (local.get $wp)))
            (local.set $a2 (v128.load offset=32 (local.get $wp)))
            (local.set $a3 (v128.load offset=48 (local.get $wp)))
            (local.set $a4 (v128.load offset=64 (local.get $wp)))
            (local.set $a5 (v128.load offset=80 (local.get $wp)))
            (local.set $a6 (v128.load offset=96 (local.get $wp)))
            (local.set $a7 (v128.load offset=112 (local.get $wp)))
            (local.set $j (local.get $begin))
            (loop $eachInput
              (local.set $s (v128.load32_splat (local.get $j)))
              (local.set $wp (i32.add (i32.load offset=4 (local.get $j)) (local.get $oc)))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load offset=0 (local.get $wp)))))
              (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wp)))))
              (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $wp)))))
              (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $wp)))))
              (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (v128.load offset=64 (local.get $wp)))))
              (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (v128.load offset=80 (local.get $wp)))))
              (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (v128.load offset=96 (local.get $wp)))))
              (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (v128.load offset=112 (local.get $wp)))))
              (br_if $eachInput (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $end))))
            (local.set $wp (i32.add (local.get $orow) (local.get $oc)))
            (v128.store offset=0 (local.get $wp) (local.get $a0))
            (v128.store offset=16 (local.get $wp) (local.get $a1))
            (v128.store offset=32 (local.get $wp) (local.get $a2))
            (v128.store offset=48 (local.get $wp) (local.get $a3))
            (v128.store offset=64 (local.get $wp) (local.get $a4))
            (v128.store offset=80 (local.get $wp) (local.get $a5))
            (v128.store offset=96 (local.get $wp) (local.get $a6))
            (v128.store offset=112 (local.get $wp) (local.get $a7))
            (local.set $oc (i32.add (local.get $oc) (i32.const 128)))
            (br $wide)))
          (block $narrowDone (loop $narrow
            (br_if $narrowDone (i32.ge_u (local.get $oc) (local.get $rowBytes)))
            (local.set $a0 (v128.load (i32.add (local.get $orow) (local.get $oc))))
            (local.set $j (local.get $begin))
            (loop $eachInput4
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul
                (v128.load32_splat (local.get $j))
                (v128.load (i32.add (i32.load offset=4 (local.get $j)) (local.get $oc))))))
              (br_if $eachInput4 (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $end))))
            (v128.store (i32.add (local.get $orow) (local.get $oc)) (local.get $a0))
            (local.set $oc (i32.add (local.get $oc) (i32.const 16)))
            (br $narrow)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $eachImage2)))
      (local.set $b0 (i32.add (local.get $b0) (local.get $block)))
      (br $eachBlock)))
    (if (local.get $relu) (then (call $relu (local.get $out) (i32.mul (local.get $batch) (local.get $o4)))))))
