/*
 * Float32 kernels for @mm/backend (NHWC convolution and its gradients, max-pool gradient), compiled to a tiny wasm module that works
 * directly on tfjs-backend-wasm's heap (it imports that memory). Built by
 * `pnpm --filter @mm/backend build:wasm` (clang + lld, Debian packages); the output is committed
 * as src/kernels/simd/kernels-wasm.generated.ts so installs need no compiler.
 *
 * Why not XNNPACK (what tfjs-backend-wasm 4.22 uses): it was compiled for plain wasm SIMD, where
 * every multiply-add is two instructions. Built with MADD = relaxed-SIMD f32x4.relaxed_madd
 * (one FMA on x86), the same 4×8 register tile runs ~1.8× faster per thread.
 *
 * Rules for this file, because the module shares the heap of another program:
 *  - no stack, no globals, no data segments (the build checks the output): the module's own
 *    stack pointer would point into tfjs's memory, and several threads run it at once;
 *  - every scratch buffer comes in as an argument, allocated by the caller in tfjs's heap.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#ifdef RELAXED
#if __clang_major__ >= 16
/* clang 16+ names the builtin after the final instruction and emits f32x4.relaxed_madd. */
#define MADD(a, b, c) __builtin_wasm_relaxed_madd_f32x4(a, b, c)
#else
/* clang 14 and 15 know only the prototype's f32x4.fma opcode; the build rewrites it to
 * relaxed_madd (a·b + c), so MADD(a, b, c) is a·b + c in the shipped binary either way. */
#define MADD(a, b, c) __builtin_wasm_fma_f32x4(a, b, c)
#endif
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)
#endif

#define SPLAT(p) wasm_v128_load32_splat(p)
#define REP4(M) M(0) M(1) M(2) M(3)

/*
 * w: [K][Co] (HWIO flattened, K = KH·KW·Ci)  →  packed: [Co/8][K][8].
 * With rotate: w is a forward filter [KH][KW][Ci][Co] and the packed filter is the one the
 * input gradient convolves with: element (kh, kw, co) × ci = w[KH−1−kh][KW−1−kw][ci][co],
 * i.e. [Ci/8][KH·KW·Co][8]. Output channels (Co, or Ci when rotating) must be a multiple of 8.
 */
EXPORT(pack_filter)
void pack_filter(const float* w, float* packed, int KH, int KW, int Ci, int Co, int rotate) {
  if (!rotate) {
    int K = KH * KW * Ci;
    for (int cb = 0; cb < Co; cb += 8)
      for (int k = 0; k < K; k++) {
        const float* from = w + k * Co + cb;
        float* to = packed + cb * K + k * 8;
        wasm_v128_store(to, wasm_v128_load(from));
        wasm_v128_store(to + 4, wasm_v128_load(from + 4));
      }
    return;
  }
  int K = KH * KW * Co;
  for (int kh = 0; kh < KH; kh++)
    for (int kw = 0; kw < KW; kw++) {
      const float* tap = w + ((KH - 1 - kh) * KW + (KW - 1 - kw)) * Ci * Co;
      for (int co = 0; co < Co; co++) {
        int k = (kh * KW + kw) * Co + co;
        for (int ci = 0; ci < Ci; ci++) packed[(ci & ~7) * K + k * 8 + (ci & 7)] = tap[ci * Co + co];
      }
    }
}

#define ADD_BIAS(i) c##i##a = wasm_f32x4_add(c##i##a, b0); c##i##b = wasm_f32x4_add(c##i##b, b1);
#define RELU(i) c##i##a = wasm_f32x4_max(c##i##a, z); c##i##b = wasm_f32x4_max(c##i##b, z);

/*
 * The 4×8 FMA register tiles of one 4-pixel tile of conv2d, over every 8 output channels. Its
 * own (not inlined) function: V8's code for this loop was measurably slower, by up to 20 %,
 * depending on what else the enclosing function held.
 */
__attribute__((noinline)) static void conv2d_tile(const float** ptrs, const float* packed, const float* bias,
                                                  float* outTile, int K, int Ci, int Co, int taps, int relu, int rows) {
    for (int cb = 0; cb < Co; cb += 8) {
      const float* wk = packed + cb * K;
#define ZERO(i) v128_t c##i##a = wasm_f32x4_splat(0.0f), c##i##b = c##i##a;
      REP4(ZERO)
      const float** tap = ptrs;
      for (int t = 0; t < taps; t++, tap += 4) {
        const float *a0 = tap[0], *a1 = tap[1], *a2 = tap[2], *a3 = tap[3];
        for (int ci = 0; ci < Ci; ci++, wk += 8) {
          v128_t w0 = wasm_v128_load(wk), w1 = wasm_v128_load(wk + 4);
#define FMA_ROW(i)                    \
  {                                   \
    v128_t xv = SPLAT(a##i + ci);     \
    c##i##a = MADD(xv, w0, c##i##a);  \
    c##i##b = MADD(xv, w1, c##i##b);  \
  }
          REP4(FMA_ROW)
        }
      }
      if (bias) {
        v128_t b0 = wasm_v128_load(bias + cb), b1 = wasm_v128_load(bias + cb + 4);
        REP4(ADD_BIAS)
      }
      if (relu) {
        v128_t z = wasm_f32x4_splat(0.0f);
        REP4(RELU)
      }
      float* o = outTile + cb;
#define STORE(i) if (i < rows) { wasm_v128_store(o + i * Co, c##i##a); wasm_v128_store(o + i * Co + 4, c##i##b); }
      REP4(STORE)
    }
}

/*
 * out[p, co] = act(bias[co] + Σ_{kh,kw,ci} x[n, oh·sh + kh·dh − pt, ow·sw + kw·dw − pl, ci] · w[kh,kw,ci,co])
 * for the output pixels p = (n, oh, ow) in [p0, p1), without an im2col copy: each 4-pixel
 * tile first lists, per filter tap, where its 4 input rows start (or a row of zeros when the
 * tap falls into the padding), then runs 4×8 register tiles over every 8 output channels.
 * ptrs: scratch for KH·KW·4 pointers; zeros: Ci zeros; bias may be 0; relu: 0 or 1.
 */
EXPORT(conv2d)
void conv2d(const float* x, const float* packed, const float* bias, float* out, const float* zeros, const float** ptrs,
            int H, int W, int Ci, int OH, int OW, int Co, int KH, int KW, int sh, int sw, int dh, int dw,
            int pt, int pl, int relu, int p0, int p1) {
  int K = KH * KW * Ci;
  int taps = KH * KW;
  /* Output coordinates advance pixel by pixel (no division per tile: with few input channels
   * the divisions cost as much as the products). */
  int nextN = p0 / (OH * OW), nextOh = (p0 - nextN * OH * OW) / OW, nextOw = p0 - nextN * OH * OW - nextOh * OW;
#define STEP_FROM(i, j)                                               \
  int n##i = n##j, oh##i = oh##j, ow##i = ow##j + 1;                  \
  if (ow##i == OW) { ow##i = 0; if (++oh##i == OH) { oh##i = 0; n##i++; } } \
  if (p + i >= p1) { n##i = n##j; oh##i = oh##j; ow##i = ow##j; }
  for (int p = p0; p < p1; p += 4) {
    int n0 = nextN, oh0 = nextOh, ow0 = nextOw;
    STEP_FROM(1, 0)
    STEP_FROM(2, 1)
    STEP_FROM(3, 2)
    nextN = n3; nextOh = oh3; nextOw = ow3 + 1;
    if (nextOw == OW) { nextOw = 0; if (++nextOh == OH) { nextOh = 0; nextN++; } }
#define LOCATE(i) int ih##i = oh##i * sh - pt, iw##i = ow##i * sw - pl;
    REP4(LOCATE)
    int rows = p1 - p < 4 ? p1 - p : 4;
    const float** slot = ptrs;
    for (int kh = 0; kh < KH; kh++)
      for (int kw = 0; kw < KW; kw++) {
#define POINT(i)                                                                             \
  {                                                                                          \
    int ih = ih##i + kh * dh, iw = iw##i + kw * dw;                                          \
    *slot++ = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x + ((n##i * H + ih) * W + iw) * Ci \
                                                       : zeros;                             \
  }
        REP4(POINT)
      }
    conv2d_tile(ptrs, packed, bias, out + p * Co, K, Ci, Co, taps, relu, rows);
  }
}

/*
 * dw[kh, kw, ci, co] += Σ_{n, oh, ow} x[n, oh·sh + kh·dh − pt, ow·sw + kw·dw − pl, ci] · dy[n, oh, ow, co]
 * for the output tiles t0 ≤ t < t1 (tile = 4 input channels × 8 output channels of one tap,
 * numbered [Co/8][KH·KW][⌈Ci/4⌉]), samples in chunks of chunkN so that the chunk of x and dy
 * every tile re-reads stays in cache. dw must be zeroed by the caller. Co multiple of 8.
 */
EXPORT(conv2d_filter_grad)
void conv2d_filter_grad(const float* x, const float* dy, float* dwOut, int N, int H, int W, int Ci, int OH,
                        int OW, int Co, int KH, int KW, int sh, int sw, int dh, int dw, int pt, int pl,
                        int chunkN, int t0, int t1) {
  int ciBlocks = (Ci + 3) / 4;
  int taps = KH * KW;
  for (int nStart = 0; nStart < N; nStart += chunkN) {
    int nEnd = nStart + chunkN < N ? nStart + chunkN : N;
    for (int t = t0; t < t1; t++) {
      int cb = (t / (taps * ciBlocks)) * 8;
      int rest = t - (cb / 8) * taps * ciBlocks;
      int tapIndex = rest / ciBlocks;
      int ci = (rest - tapIndex * ciBlocks) * 4;
      int kh = tapIndex / KW, kw = tapIndex - kh * KW;
      int rows = Ci - ci < 4 ? Ci - ci : 4;
      /* Output rows/columns whose input row/column lies inside x. */
      int ohFirst = 0, ohEnd = OH, owFirst = 0, owEnd = OW;
      while (ohFirst < OH && ohFirst * sh + kh * dh - pt < 0) ohFirst++;
      while (ohEnd > ohFirst && (ohEnd - 1) * sh + kh * dh - pt >= H) ohEnd--;
      while (owFirst < OW && owFirst * sw + kw * dw - pl < 0) owFirst++;
      while (owEnd > owFirst && (owEnd - 1) * sw + kw * dw - pl >= W) owEnd--;
      /* Input channel offsets of the tile's rows; past Ci they repeat the last one (never stored). */
      int c1 = rows > 1 ? 1 : 0, c2 = rows > 2 ? 2 : c1, c3 = rows > 3 ? 3 : c2;
      float* o = dwOut + (tapIndex * Ci + ci) * Co + cb;
      v128_t c0a = wasm_v128_load(o), c0b = wasm_v128_load(o + 4);
      v128_t c1a = c0a, c1b = c0b, c2a = c0a, c2b = c0b, c3a = c0a, c3b = c0b;
      if (rows > 1) { c1a = wasm_v128_load(o + Co); c1b = wasm_v128_load(o + Co + 4); }
      if (rows > 2) { c2a = wasm_v128_load(o + 2 * Co); c2b = wasm_v128_load(o + 2 * Co + 4); }
      if (rows > 3) { c3a = wasm_v128_load(o + 3 * Co); c3b = wasm_v128_load(o + 3 * Co + 4); }
      for (int n = nStart; n < nEnd; n++)
        for (int oh = ohFirst; oh < ohEnd; oh++) {
          const float* g = dy + ((n * OH + oh) * OW + owFirst) * Co + cb;
          const float* a = x + ((n * H + oh * sh + kh * dh - pt) * W + owFirst * sw + kw * dw - pl) * Ci + ci;
          for (int ow = owFirst; ow < owEnd; ow++, g += Co, a += sw * Ci) {
            /* One input value live at a time, as in conv2d: 8 accumulators + 2 + 1 registers. */
            v128_t g0 = wasm_v128_load(g), g1 = wasm_v128_load(g + 4);
            v128_t xv = SPLAT(a);
            c0a = MADD(xv, g0, c0a); c0b = MADD(xv, g1, c0b);
            xv = SPLAT(a + c1);
            c1a = MADD(xv, g0, c1a); c1b = MADD(xv, g1, c1b);
            xv = SPLAT(a + c2);
            c2a = MADD(xv, g0, c2a); c2b = MADD(xv, g1, c2b);
            xv = SPLAT(a + c3);
            c3a = MADD(xv, g0, c3a); c3b = MADD(xv, g1, c3b);
          }
        }
      wasm_v128_store(o, c0a); wasm_v128_store(o + 4, c0b);
      if (rows > 1) { wasm_v128_store(o + Co, c1a); wasm_v128_store(o + Co + 4, c1b); }
      if (rows > 2) { wasm_v128_store(o + 2 * Co, c2a); wasm_v128_store(o + 2 * Co + 4, c2b); }
      if (rows > 3) { wasm_v128_store(o + 3 * Co, c3a); wasm_v128_store(o + 3 * Co + 4, c3b); }
    }
  }
}

/*
 * Gradient of a 2×2, stride-2, unpadded max pool, for the output rows r = n·OH + oh in
 * [r0, r1): each dy value goes to the first maximum of its window in row-major order (strict
 * '>', a NaN first element counts as −∞: the cpu backend's tie rule, which matters after ReLU
 * where whole windows are 0). Windows do not overlap, so every covered dx element is written
 * exactly once; rows/columns beyond 2·OH / 2·OW are left to the caller.
 */
EXPORT(max_pool_2x2_grad)
void max_pool_2x2_grad(const float* x, const float* dy, float* dx, int H, int W, int C, int OH, int OW, int r0, int r1) {
  int vectorC = C & ~3;
  v128_t minusInf = wasm_f32x4_splat(-__builtin_inff());
  for (int r = r0; r < r1; r++) {
    int n = r / OH, oh = r - n * OH;
    const float* top = x + ((n * H + 2 * oh) * W) * C;
    float* dtop = dx + ((n * H + 2 * oh) * W) * C;
    const float* g = dy + (r * OW) * C;
    for (int ow = 0; ow < OW; ow++, g += C) {
      int at = 2 * ow * C;
      const float *x00 = top + at, *x01 = x00 + C, *x10 = x00 + W * C, *x11 = x10 + C;
      float *d00 = dtop + at, *d01 = d00 + C, *d10 = d00 + W * C, *d11 = d10 + C;
      int c = 0;
      for (; c < vectorC; c += 4) {
        v128_t best = wasm_v128_load(x00 + c);
        best = wasm_v128_bitselect(minusInf, best, wasm_f32x4_ne(best, best));
        v128_t v = wasm_v128_load(x01 + c);
        v128_t m1 = wasm_f32x4_gt(v, best);
        best = wasm_v128_bitselect(v, best, m1);
        v = wasm_v128_load(x10 + c);
        v128_t m2 = wasm_f32x4_gt(v, best);
        best = wasm_v128_bitselect(v, best, m2);
        v128_t m3 = wasm_f32x4_gt(wasm_v128_load(x11 + c), best);
        v128_t grad = wasm_v128_load(g + c);
        v128_t later = wasm_v128_or(m2, m3);
        wasm_v128_store(d11 + c, wasm_v128_and(grad, m3));
        wasm_v128_store(d10 + c, wasm_v128_and(grad, wasm_v128_andnot(m2, m3)));
        wasm_v128_store(d01 + c, wasm_v128_and(grad, wasm_v128_andnot(m1, later)));
        wasm_v128_store(d00 + c, wasm_v128_andnot(grad, wasm_v128_or(m1, later)));
      }
      for (; c < C; c++) {
        float best = x00[c];
        int which = 0;
        if (best != best) best = -__builtin_inff();
        if (x01[c] > best) { best = x01[c]; which = 1; }
        if (x10[c] > best) { best = x10[c]; which = 2; }
        if (x11[c] > best) which = 3;
        d00[c] = which == 0 ? g[c] : 0.0f;
        d01[c] = which == 1 ? g[c] : 0.0f;
        d10[c] = which == 2 ? g[c] : 0.0f;
        d11[c] = which == 3 ? g[c] : 0.0f;
      }
    }
  }
}

/* Element-wise ops of the arithmetic kernels: 0 add, 1 subtract, 2 multiply. */
#define BINARY_LOOP(VEC, SCALAR)                                      \
  for (; c + 4 <= count; c += 4) {                                    \
    v128_t va = wasm_v128_load(pa + c), vb = wasm_v128_load(pb + c);  \
    wasm_v128_store(po + c, VEC(va, vb));                             \
  }                                                                   \
  for (; c < count; c++) po[c] = pa[c] SCALAR pb[c];

static inline void binary_span(int op, const float* pa, const float* pb, float* po, int count) {
  int c = 0;
  if (op == 0) { BINARY_LOOP(wasm_f32x4_add, +) }
  else if (op == 1) { BINARY_LOOP(wasm_f32x4_sub, -) }
  else { BINARY_LOOP(wasm_f32x4_mul, *) }
}

/* out[i] = a[i] op b[i] for i in [begin, end): operands of the same shape. */
EXPORT(binary_same)
void binary_same(int op, const float* a, const float* b, float* out, int begin, int end) {
  binary_span(op, a + begin, b + begin, out + begin, end - begin);
}

/*
 * Broadcasting over rows: the output is [outer, mid, C] and row r = o·mid + i of an operand
 * starts at o·outerStride + i·midStride (mid·C and C for a full operand, C and 0 for one of
 * shape [outer, 1, C], 0 and 0 for a channel vector). Rows [r0, r1).
 */
EXPORT(binary_rows)
void binary_rows(int op, const float* a, int aOuter, int aMid, const float* b, int bOuter, int bMid, float* out,
                 int mid, int C, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    int o = r / mid, i = r - o * mid;
    binary_span(op, a + o * aOuter + i * aMid, b + o * bOuter + i * bMid, out + r * C, C);
  }
}

/* Unary ops for i in [begin, end): 0 square, 1 step (x > 0 ? 1 : 0, NaN stays NaN). */
EXPORT(unary)
void unary(int op, const float* x, float* out, int begin, int end) {
  int i = begin;
  if (op == 0) {
    for (; i + 4 <= end; i += 4) { v128_t v = wasm_v128_load(x + i); wasm_v128_store(out + i, wasm_f32x4_mul(v, v)); }
    for (; i < end; i++) out[i] = x[i] * x[i];
    return;
  }
  v128_t one = wasm_f32x4_splat(1.0f);
  for (; i + 4 <= end; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t positive = wasm_v128_and(wasm_f32x4_gt(v, wasm_f32x4_splat(0.0f)), one);
    /* NaN lanes keep the input (NaN); others 1 or 0. */
    wasm_v128_store(out + i, wasm_v128_bitselect(v, positive, wasm_f32x4_ne(v, v)));
  }
  for (; i < end; i++) out[i] = x[i] != x[i] ? x[i] : (x[i] > 0.0f ? 1.0f : 0.0f);
}

/*
 * Sums over the middle axis of x viewed as [outer, reduce, inner]:
 *   out[(o − o0)·inner + c] = Σ_{r ∈ [rStart, rEnd)} f(x[i]),  i = (o·reduce + r)·inner + c,  o ∈ [o0, o1),
 * with f(v) = v, or, given `center` ([outer, inner]), f(v) = (v − center[o·inner + c])² (the
 * variance of batch normalisation), or, given `other` (shaped as x) too, f(v) = other[i]·(v − center)
 * (its gradient's Σ dy·(x − mean)): one read-only pass, no centred or product copy of x.
 * 16 channels at a time are summed in registers over blocks of 128 rows, and the block sums
 * added to out: float32 rounding grows with the number of blocks, not of rows.
 */
#define TERM(v, m, w) \
  (other ? wasm_f32x4_mul(w, wasm_f32x4_sub(v, m)) : center ? wasm_f32x4_mul(wasm_f32x4_sub(v, m), wasm_f32x4_sub(v, m)) : (v))
EXPORT(sum_middle)
void sum_middle(const float* x, const float* other, const float* center, float* out, int reduce, int inner, int o0, int o1,
                int rStart, int rEnd) {
  /* Without a center, `other` has no meaning here. */
  if (!center) other = 0;
  for (int o = o0; o < o1; o++) {
    float* total = out + (o - o0) * inner;
    const float* mean = center ? center + o * inner : 0;
    for (int c = 0; c < inner; c++) total[c] = 0.0f;
    for (int r = rStart; r < rEnd; r += 128) {
      int rows = (r + 128 < rEnd ? r + 128 : rEnd) - r;
      int start = (o * reduce + r) * inner;
      const float* block = x + start;
      /* Read alongside x; x itself when there is no second operand (never used then). */
      const float* block2 = other ? other + start : block;
      int c = 0;
      for (; c + 16 <= inner; c += 16) {
        v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
        v128_t m0 = s0, m1 = s0, m2 = s0, m3 = s0;
        if (center) {
          m0 = wasm_v128_load(mean + c); m1 = wasm_v128_load(mean + c + 4);
          m2 = wasm_v128_load(mean + c + 8); m3 = wasm_v128_load(mean + c + 12);
        }
        const float* row = block + c;
        const float* row2 = block2 + c;
        for (int q = 0; q < rows; q++, row += inner, row2 += inner) {
          s0 = wasm_f32x4_add(s0, TERM(wasm_v128_load(row), m0, wasm_v128_load(row2)));
          s1 = wasm_f32x4_add(s1, TERM(wasm_v128_load(row + 4), m1, wasm_v128_load(row2 + 4)));
          s2 = wasm_f32x4_add(s2, TERM(wasm_v128_load(row + 8), m2, wasm_v128_load(row2 + 8)));
          s3 = wasm_f32x4_add(s3, TERM(wasm_v128_load(row + 12), m3, wasm_v128_load(row2 + 12)));
        }
        wasm_v128_store(total + c, wasm_f32x4_add(wasm_v128_load(total + c), s0));
        wasm_v128_store(total + c + 4, wasm_f32x4_add(wasm_v128_load(total + c + 4), s1));
        wasm_v128_store(total + c + 8, wasm_f32x4_add(wasm_v128_load(total + c + 8), s2));
        wasm_v128_store(total + c + 12, wasm_f32x4_add(wasm_v128_load(total + c + 12), s3));
      }
      for (; c + 4 <= inner; c += 4) {
        v128_t s0 = wasm_f32x4_splat(0.0f);
        v128_t m0 = center ? wasm_v128_load(mean + c) : s0;
        const float* row = block + c;
        const float* row2 = block2 + c;
        for (int q = 0; q < rows; q++, row += inner, row2 += inner) {
          s0 = wasm_f32x4_add(s0, TERM(wasm_v128_load(row), m0, wasm_v128_load(row2)));
        }
        wasm_v128_store(total + c, wasm_f32x4_add(wasm_v128_load(total + c), s0));
      }
      for (; c < inner; c++) {
        float sum = 0.0f, m = center ? mean[c] : 0.0f;
        const float* row = block + c;
        const float* row2 = block2 + c;
        for (int q = 0; q < rows; q++, row += inner, row2 += inner) {
          sum += other ? *row2 * (*row - m) : center ? (*row - m) * (*row - m) : *row;
        }
        total[c] += sum;
      }
    }
  }
}

/* out[r, c] = x[r, c]·a[c] + b[c] for rows [r0, r1) of C channels (batch norm as x·a + b). */
EXPORT(scale_shift_rows)
void scale_shift_rows(const float* x, const float* a, const float* b, float* out, int C, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    const float* row = x + r * C;
    float* o = out + r * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t v = wasm_f32x4_mul(wasm_v128_load(row + c), wasm_v128_load(a + c));
      wasm_v128_store(o + c, wasm_f32x4_add(v, wasm_v128_load(b + c)));
    }
    for (; c < C; c++) o[c] = row[c] * a[c] + b[c];
  }
}

/*
 * The layout changes that let conv2d compute a filter gradient (see conv2DFilterGradientSimd):
 * x [N, HW, Ci] → xT [Ci, HW, N] for the positions hw ∈ [hw0, hw1), four samples at a time.
 */
EXPORT(to_channel_major)
void to_channel_major(const float* x, float* xT, int N, int HW, int Ci, int hw0, int hw1) {
  for (int hw = hw0; hw < hw1; hw++) {
    int n = 0;
    for (; n + 4 <= N; n += 4) {
      const float *r0 = x + (n * HW + hw) * Ci, *r1 = r0 + HW * Ci, *r2 = r1 + HW * Ci, *r3 = r2 + HW * Ci;
      float* to = xT + hw * N + n;
      for (int ci = 0; ci < Ci; ci++, to += HW * N) {
        wasm_v128_store(to, wasm_f32x4_make(r0[ci], r1[ci], r2[ci], r3[ci]));
      }
    }
    for (; n < N; n++) {
      const float* r = x + (n * HW + hw) * Ci;
      for (int ci = 0; ci < Ci; ci++) xT[(ci * HW + hw) * N + n] = r[ci];
    }
  }
}

/*
 * dy [N, S, Co] (S = OH·OW) packed as the filter of that convolution: [Co/8][S·N][8] with
 * element (s, n) × co = dy[n, s, co], for the positions s ∈ [s0, s1). Co multiple of 8.
 */
EXPORT(pack_rows_as_filter)
void pack_rows_as_filter(const float* dy, float* packed, int N, int S, int Co, int s0, int s1) {
  int K = S * N;
  for (int cb = 0; cb < Co; cb += 8)
    for (int s = s0; s < s1; s++) {
      float* to = packed + cb * K + s * N * 8;
      const float* from = dy + s * Co + cb;
      for (int n = 0; n < N; n++, to += 8, from += S * Co) {
        wasm_v128_store(to, wasm_v128_load(from));
        wasm_v128_store(to + 4, wasm_v128_load(from + 4));
      }
    }
}

/*
 * Winograd F(2×2, 3×3) for stride-1 3×3 convolutions (Lavin & Gray 2016): each 2×2 output tile
 * is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A of its 4×4 input tile d, so the products become 16 independent
 * matrix products [tiles × Ci]·[Ci × Co] (run by conv2d as 1×1 convolutions) with 2.25× fewer
 * multiplications than the direct convolution; the transforms are additions (and halvings).
 */

/*
 * U = G g Gᵀ for every (ci, co) of a [3][3][Ci][Co] filter, packed for conv2d per position:
 * [16][Co/8][Ci][8]. With rotate, the filter the input gradient needs: element (kh, kw) of
 * (co → ci) is w[2−kh][2−kw][ci][co], packed [16][Ci/8][Co][8].
 */
EXPORT(winograd_filter)
void winograd_filter(const float* w, float* packed, int Ci, int Co, int rotate) {
  int inC = rotate ? Co : Ci, outC = rotate ? Ci : Co;
  for (int i = 0; i < inC; i++)
    for (int o = 0; o < outC; o++) {
#define TAP(kh, kw) (rotate ? w[((2 - (kh)) * 3 + (2 - (kw))) * Ci * Co + o * Co + i] : w[((kh) * 3 + (kw)) * Ci * Co + i * Co + o])
#define G_COLUMN(j)                                                  \
  float t0##j = TAP(0, j), t3##j = TAP(2, j);                       \
  float t1##j = 0.5f * (TAP(0, j) + TAP(1, j) + TAP(2, j));          \
  float t2##j = 0.5f * (TAP(0, j) - TAP(1, j) + TAP(2, j));
      G_COLUMN(0) G_COLUMN(1) G_COLUMN(2)
      float* to = packed + (o & ~7) * inC + i * 8 + (o & 7);
      int position = outC * inC;
#define G_ROW(r)                                                             \
  to[(r * 4 + 0) * position] = t##r##0;                                      \
  to[(r * 4 + 1) * position] = 0.5f * (t##r##0 + t##r##1 + t##r##2);        \
  to[(r * 4 + 2) * position] = 0.5f * (t##r##0 - t##r##1 + t##r##2);        \
  to[(r * 4 + 3) * position] = t##r##2;
      G_ROW(0) G_ROW(1) G_ROW(2) G_ROW(3)
    }
}

/*
 * V = Bᵀ d B for the 4×4 input tiles t ∈ [t0, t1) of x [N, H, W, C] (tile (n, th, tw) starts at
 * row 2·th − pt, column 2·tw − pl; outside x reads 0), stored [16][T][C]. C multiple of 4.
 */
EXPORT(winograd_input)
void winograd_input(const float* x, float* V, int H, int W, int C, int TH, int TW, int T, int pt, int pl, int t0, int t1) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int t = t0; t < t1; t++) {
    int n = t / (TH * TW), rest = t - n * TH * TW, th = rest / TW, tw = rest - th * TW;
    int ih = 2 * th - pt, iw = 2 * tw - pl;
    const float* base = x + ((n * H + ih) * W + iw) * C;
    int r0 = ih >= 0 && ih < H, r1 = ih + 1 >= 0 && ih + 1 < H, r2 = ih + 2 >= 0 && ih + 2 < H, r3 = ih + 3 >= 0 && ih + 3 < H;
    int k0 = iw >= 0 && iw < W, k1 = iw + 1 >= 0 && iw + 1 < W, k2 = iw + 2 >= 0 && iw + 2 < W, k3 = iw + 3 >= 0 && iw + 3 < W;
    float* out = V + t * C;
    int plane = T * C;
    for (int c = 0; c < C; c += 4) {
#define D(i, j) v128_t d##i##j = (r##i && k##j) ? wasm_v128_load(base + ((i) * W + (j)) * C + c) : zero;
#define D_ROW(i) D(i, 0) D(i, 1) D(i, 2) D(i, 3)
      D_ROW(0) D_ROW(1) D_ROW(2) D_ROW(3)
      /* r = Bᵀ d, column by column. */
#define B_COLUMN(j)                                  \
  v128_t q0##j = wasm_f32x4_sub(d0##j, d2##j);        \
  v128_t q1##j = wasm_f32x4_add(d1##j, d2##j);        \
  v128_t q2##j = wasm_f32x4_sub(d2##j, d1##j);        \
  v128_t q3##j = wasm_f32x4_sub(d1##j, d3##j);
      B_COLUMN(0) B_COLUMN(1) B_COLUMN(2) B_COLUMN(3)
      /* V = r B, row by row. */
#define B_ROW(i)                                                                   \
  wasm_v128_store(out + (i * 4 + 0) * plane + c, wasm_f32x4_sub(q##i##0, q##i##2)); \
  wasm_v128_store(out + (i * 4 + 1) * plane + c, wasm_f32x4_add(q##i##1, q##i##2)); \
  wasm_v128_store(out + (i * 4 + 2) * plane + c, wasm_f32x4_sub(q##i##2, q##i##1)); \
  wasm_v128_store(out + (i * 4 + 3) * plane + c, wasm_f32x4_sub(q##i##1, q##i##3));
      B_ROW(0) B_ROW(1) B_ROW(2) B_ROW(3)
    }
  }
}

/*
 * y = act(Aᵀ m A + bias) for the tiles t ∈ [t0, t1) of the products M [16][T][Co], written to
 * y [N, OH, OW, Co] where the 2×2 tile lies inside it. Co multiple of 4; bias may be 0.
 */
EXPORT(winograd_output)
void winograd_output(const float* M, const float* bias, float* y, int OH, int OW, int Co, int TH, int TW, int T,
                     int relu, int t0, int t1) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int t = t0; t < t1; t++) {
    int n = t / (TH * TW), rest = t - n * TH * TW, th = rest / TW, tw = rest - th * TW;
    int oh = 2 * th, ow = 2 * tw;
    int down = oh + 1 < OH, right = ow + 1 < OW;
    float* out = y + ((n * OH + oh) * OW + ow) * Co;
    const float* m = M + t * Co;
    int plane = T * Co;
    for (int c = 0; c < Co; c += 4) {
#define M_AT(i, j) v128_t m##i##j = wasm_v128_load(m + (i * 4 + j) * plane + c);
#define M_ROW(i) M_AT(i, 0) M_AT(i, 1) M_AT(i, 2) M_AT(i, 3)
      M_ROW(0) M_ROW(1) M_ROW(2) M_ROW(3)
      /* s = Aᵀ m (2×4), then y = s A (2×2). */
#define A_COLUMN(j)                                                       \
  v128_t s0##j = wasm_f32x4_add(wasm_f32x4_add(m0##j, m1##j), m2##j);     \
  v128_t s1##j = wasm_f32x4_sub(wasm_f32x4_sub(m1##j, m2##j), m3##j);
      A_COLUMN(0) A_COLUMN(1) A_COLUMN(2) A_COLUMN(3)
      v128_t y00 = wasm_f32x4_add(wasm_f32x4_add(s00, s01), s02);
      v128_t y01 = wasm_f32x4_sub(wasm_f32x4_sub(s01, s02), s03);
      v128_t y10 = wasm_f32x4_add(wasm_f32x4_add(s10, s11), s12);
      v128_t y11 = wasm_f32x4_sub(wasm_f32x4_sub(s11, s12), s13);
      if (bias) {
        v128_t b = wasm_v128_load(bias + c);
        y00 = wasm_f32x4_add(y00, b); y01 = wasm_f32x4_add(y01, b);
        y10 = wasm_f32x4_add(y10, b); y11 = wasm_f32x4_add(y11, b);
      }
      if (relu) {
        y00 = wasm_f32x4_max(y00, zero); y01 = wasm_f32x4_max(y01, zero);
        y10 = wasm_f32x4_max(y10, zero); y11 = wasm_f32x4_max(y11, zero);
      }
      wasm_v128_store(out + c, y00);
      if (right) wasm_v128_store(out + Co + c, y01);
      if (down) {
        wasm_v128_store(out + OW * Co + c, y10);
        if (right) wasm_v128_store(out + (OW + 1) * Co + c, y11);
      }
    }
  }
}

/*
 * The right operand of a matrix product packed for conv2d (a 1×1 convolution over the rows of
 * the left one): b [K][N] (or [N][K] when transposed) → [N/8][K][8]. N multiple of 8.
 */
EXPORT(pack_matrix)
void pack_matrix(const float* b, float* packed, int K, int N, int transposed) {
  for (int nb = 0; nb < N; nb += 8)
    for (int k = 0; k < K; k++) {
      float* to = packed + nb * K + k * 8;
      if (!transposed) {
        wasm_v128_store(to, wasm_v128_load(b + k * N + nb));
        wasm_v128_store(to + 4, wasm_v128_load(b + k * N + nb + 4));
      } else {
        for (int j = 0; j < 8; j++) to[j] = b[(nb + j) * K + k];
      }
    }
}

/* dst [cols][rows] = src [rows][cols]ᵀ, for the source rows [r0, r1). */
EXPORT(transpose_2d)
void transpose_2d(const float* src, float* dst, int rows, int cols, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    const float* from = src + r * cols;
    for (int c = 0; c < cols; c++) dst[c * rows + r] = from[c];
  }
}

/*
 * The momentum optimizer's update of many variables in one call (SGD when an entry has no
 * accumulator). table: two float32 header words, the momentum m and c = −learning rate, then
 * `entries` rows of seven int32: value, accum, grad, outValue, outAccum (byte offsets in the
 * heap; accum = outAccum = 0 for SGD), start (the row's first element in the concatenation of
 * every row, rows in order) and count. Elements [begin, end) of that concatenation are updated, so a call splits
 * evenly across threads whatever the variables' sizes:
 *   momentum: a' = m·a + g,  v' = c·a' + v          (nesterov: v' = c·(g + a'·m) + v)
 *   SGD:      v' = c·g + v
 * Each product and sum is rounded on its own, in tfjs-core's order (one kernel per op there),
 * so the results are bit-identical with its optimizers: keep every product and sum in its own
 * statement and never let them fuse into a multiply-add.
 */
static void momentum_span(const float* v, const float* a, const float* g, float* ov, float* oa, float m, float c,
                          int nesterov, int count) {
  v128_t vm = wasm_f32x4_splat(m), vc = wasm_f32x4_splat(c);
  int i = 0;
  if (!a) {
    for (; i + 4 <= count; i += 4) {
      v128_t step = wasm_f32x4_mul(vc, wasm_v128_load(g + i));
      wasm_v128_store(ov + i, wasm_f32x4_add(step, wasm_v128_load(v + i)));
    }
    for (; i < count; i++) {
      float step = c * g[i];
      ov[i] = step + v[i];
    }
    return;
  }
  for (; i + 4 <= count; i += 4) {
    v128_t vg = wasm_v128_load(g + i);
    v128_t decayed = wasm_f32x4_mul(vm, wasm_v128_load(a + i));
    v128_t na = wasm_f32x4_add(decayed, vg);
    v128_t direction = na;
    if (nesterov) {
      v128_t ahead = wasm_f32x4_mul(na, vm);
      direction = wasm_f32x4_add(vg, ahead);
    }
    v128_t step = wasm_f32x4_mul(vc, direction);
    wasm_v128_store(oa + i, na);
    wasm_v128_store(ov + i, wasm_f32x4_add(step, wasm_v128_load(v + i)));
  }
  for (; i < count; i++) {
    float decayed = m * a[i];
    float na = decayed + g[i];
    float direction = na;
    if (nesterov) {
      float ahead = na * m;
      direction = g[i] + ahead;
    }
    float step = c * direction;
    oa[i] = na;
    ov[i] = step + v[i];
  }
}

EXPORT(momentum_update)
void momentum_update(const int* table, int entries, int nesterov, int begin, int end) {
  float m = ((const float*)table)[0], c = ((const float*)table)[1];
  const int* row = table + 2;
  for (int e = 0; e < entries; e++, row += 7) {
    int start = row[5], count = row[6];
    if (start >= end) break;
    int from = begin > start ? begin - start : 0;
    int to = end < start + count ? end - start : count;
    if (to <= from) continue;
    const float* a = row[1] ? (const float*)row[1] + from : 0;
    float* oa = row[4] ? (float*)row[4] + from : 0;
    momentum_span((const float*)row[0] + from, a, (const float*)row[2] + from, (float*)row[3] + from, oa, m, c,
                  nesterov, to - from);
  }
}

/*
 * ReLU's input gradient dx = dy · step(x) for i in [begin, end), step as in `unary` (x > 0 ? 1 : 0,
 * NaN stays NaN): one pass instead of tfjs-core's Step, Cast and Multiply, and the same values
 * (the step is formed first, then multiplied, so dy·0 keeps its sign and ∞·0 is NaN as there).
 */
EXPORT(relu_grad)
void relu_grad(const float* dy, const float* x, float* dx, int begin, int end) {
  int i = begin;
  v128_t one = wasm_f32x4_splat(1.0f);
  for (; i + 4 <= end; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t positive = wasm_v128_and(wasm_f32x4_gt(v, wasm_f32x4_splat(0.0f)), one);
    v128_t step = wasm_v128_bitselect(v, positive, wasm_f32x4_ne(v, v));
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), step));
  }
  for (; i < end; i++) {
    float step = x[i] != x[i] ? x[i] : (x[i] > 0.0f ? 1.0f : 0.0f);
    dx[i] = dy[i] * step;
  }
}
