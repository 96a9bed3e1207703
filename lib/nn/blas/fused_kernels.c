/*
 * Fused, in-place element-wise kernels of the blas backend: the optimizer updates that would
 * otherwise take a dozen tensor passes over every weight. Compiled on first use with the
 * machine's C compiler (lib/nn/blas/fused_kernels.ts); the same arithmetic in TypeScript is the
 * fallback. restrict and -fno-math-errno let the compiler vectorise the loops (6x measured).
 */
#include <math.h>
#include <stdint.h>

/*
 * Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/c1) / (sqrt(v/c2) + eps).
 * The constants arrive in double and are derived in double, each rounded to float once: 1 - b2
 * computed in float from a float b2 = 0.999 is 9.99987e-4, not 0.001, which made every step about
 * 6e-6 too large (docs/phantom.md, "Optimizers").
 */
void pb_adam(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
             int64_t n, double lr_d, double b1_d, double b2_d, double eps_d, double c1_d,
             double c2_d) {
  const float b1 = (float)b1_d, b2 = (float)b2_d, a1 = (float)(1.0 - b1_d),
              a2 = (float)(1.0 - b2_d), k1 = (float)(1.0 / c1_d), k2 = (float)(1.0 / c2_d),
              lr = (float)lr_d, eps = (float)eps_d;
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = b1 * m[i] + a1 * gi;
    const float vi = b2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi * k1) / (sqrtf(vi * k2) + eps);
  }
}

/* SGD with momentum: v = mu v + g; p -= lr v (mu = 0: p -= lr g, v untouched). */
void pb_sgd(float *restrict p, const float *restrict g, float *restrict v, int64_t n, float lr,
            float mu) {
  if (mu == 0.0f) {
    for (int64_t i = 0; i < n; i++) p[i] -= lr * g[i];
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    const float vi = mu * v[i] + g[i];
    v[i] = vi;
    p[i] -= lr * vi;
  }
}

/* x[r, j] += bias[j] (bias may be NULL), then relu when asked: the epilogue of a product. */
void pb_bias_act(float *restrict x, const float *restrict bias, int64_t rows, int64_t cols,
                 int32_t relu) {
  for (int64_t r = 0; r < rows; r++) {
    float *restrict row = x + r * cols;
    if (bias)
      for (int64_t j = 0; j < cols; j++) row[j] += bias[j];
    if (relu)
      for (int64_t j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? 0.0f : row[j];
  }
}

/* out = a + b. */
void pb_add(float *restrict out, const float *restrict a, const float *restrict b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* out = relu(a + b). */
void pb_add_relu(float *restrict out, const float *restrict a, const float *restrict b, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float z = a[i] + b[i];
    out[i] = z < 0.0f ? 0.0f : z;
  }
}

/* delta = dy where y > 0, else 0 (y is the ReLU's output). */
void pb_relu_backward(float *restrict delta, const float *restrict dy, const float *restrict y,
                      int64_t n) {
  for (int64_t i = 0; i < n; i++) delta[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* sums[j] = sum over rows of x[r, j]. */
void pb_column_sums(float *restrict sums, const float *restrict x, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; j++) sums[j] = 0.0f;
  for (int64_t r = 0; r < rows; r++) {
    const float *restrict row = x + r * cols;
    for (int64_t j = 0; j < cols; j++) sums[j] += row[j];
  }
}

/* out[c, r] = x[r, c], in 32 x 32 tiles. */
void pb_transpose(float *restrict out, const float *restrict x, int64_t rows, int64_t cols) {
  for (int64_t r0 = 0; r0 < rows; r0 += 32)
    for (int64_t c0 = 0; c0 < cols; c0 += 32) {
      const int64_t r1 = r0 + 32 < rows ? r0 + 32 : rows, c1 = c0 + 32 < cols ? c0 + 32 : cols;
      for (int64_t r = r0; r < r1; r++)
        for (int64_t c = c0; c < c1; c++) out[c * rows + r] = x[r * cols + c];
    }
}
