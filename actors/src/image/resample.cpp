#include "image/resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace loopbridge::actors::detail {

namespace {

/// Weights are fixed-point numbers with this many fractional bits: a pixel's weights sum to
/// exactly `1 << weight_bits`.
constexpr int weight_bits = 14;

/// The kernel's reach, in input pixels at scale 1.
double support_of(VipsKernel kernel) {
  switch (kernel) {
    case VIPS_KERNEL_LINEAR:
      return 1.0;
    case VIPS_KERNEL_LANCZOS3:
      return 3.0;
    default: // cubic, mitchell, lanczos2
      return 2.0;
  }
}

/// Mitchell-Netravali's cubic family: B = 0, C = 1/2 is Catmull-Rom (libvips' `cubic`,
/// Pillow's BICUBIC); B = C = 1/3 is Mitchell's filter.
double bicubic(double x, double b, double c) {
  x = std::fabs(x);
  if (x < 1)
    return ((12 - 9 * b - 6 * c) * x * x * x + (-18 + 12 * b + 6 * c) * x * x + (6 - 2 * b)) / 6;
  if (x < 2)
    return ((-b - 6 * c) * x * x * x + (6 * b + 30 * c) * x * x + (-12 * b - 48 * c) * x +
            (8 * b + 24 * c)) /
           6;
  return 0;
}

double sinc(double x) {
  if (x == 0)
    return 1;
  x *= M_PI;
  return std::sin(x) / x;
}

double filter(VipsKernel kernel, double x) {
  switch (kernel) {
    case VIPS_KERNEL_LINEAR:
      return std::max(0.0, 1 - std::fabs(x));
    case VIPS_KERNEL_CUBIC:
      return bicubic(x, 0, 0.5);
    case VIPS_KERNEL_MITCHELL:
      return bicubic(x, 1.0 / 3, 1.0 / 3);
    case VIPS_KERNEL_LANCZOS2:
      return std::fabs(x) < 2 ? sinc(x) * sinc(x / 2) : 0;
    default: // lanczos3
      return std::fabs(x) < 3 ? sinc(x) * sinc(x / 3) : 0;
  }
}

/// For each output pixel along one axis: the first input pixel it reads, how many it reads,
/// and their weights (`stride` slots per output pixel).
struct taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int16_t> weights;
  int stride = 0;
};

/// The taps of a shrink from `in_size` to `out_size` pixels (`out_size <= in_size`). Pixel
/// centres sit at `i + 0.5`; output pixel `i` is centred on input position `(i + 0.5) * scale`.
taps make_taps(int in_size, int out_size, VipsKernel kernel) {
  double scale = static_cast<double>(in_size) / out_size;
  double reach = support_of(kernel) * scale;
  taps t;
  t.stride = static_cast<int>(std::ceil(reach)) * 2 + 1;
  t.first.resize(static_cast<std::size_t>(out_size));
  t.count.resize(static_cast<std::size_t>(out_size));
  t.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(t.stride), 0);
  std::vector<double> w(static_cast<std::size_t>(t.stride));
  for (int i = 0; i < out_size; ++i) {
    double centre = (i + 0.5) * scale;
    int lo_reach = static_cast<int>(std::floor(centre - reach + 0.5));
    int hi_reach = static_cast<int>(std::floor(centre + reach + 0.5));
    int lo = std::max(0, lo_reach);
    int hi = std::min(in_size, hi_reach);
    int n = std::min(hi - lo, t.stride);
    std::fill(w.begin(), w.end(), 0.0);
    double sum = 0;
    // Beyond the edges the edge pixel repeats: its weight takes theirs.
    for (int j = lo_reach; j < hi_reach; ++j) {
      int k = std::clamp(j, lo, lo + n - 1) - lo;
      double v = filter(kernel, (j + 0.5 - centre) / scale);
      w[static_cast<std::size_t>(k)] += v;
      sum += v;
    }
    // Fixed point, summing to exactly one: the rounding error goes to the largest weight.
    auto* out = &t.weights[static_cast<std::size_t>(i) * static_cast<std::size_t>(t.stride)];
    std::int32_t total = 0;
    int largest = 0;
    for (int j = 0; j < n; ++j) {
      auto v = static_cast<std::int32_t>(
          std::lround(w[static_cast<std::size_t>(j)] / sum * (1 << weight_bits)));
      out[j] = static_cast<std::int16_t>(v);
      total += v;
      if (out[j] > out[largest])
        largest = j;
    }
    out[largest] = static_cast<std::int16_t>(out[largest] + ((1 << weight_bits) - total));
    t.first[static_cast<std::size_t>(i)] = lo;
    t.count[static_cast<std::size_t>(i)] = n;
  }
  return t;
}

/// The pixels between the two passes: 16-bit, 0..255 with this many fractional bits (rounding
/// them to bytes there would cost the result a little of its precision).
constexpr int between_bits = 7;
constexpr std::int32_t between_max = 255 << between_bits;

/// What a pass writes: the value of a sum of weighted pixels, scaled down by `Shift` bits,
/// rounded and clamped.
template <class Out, int Shift>
struct store;

/// The first pass: to 16-bit intermediate pixels.
template <int Shift>
struct store<std::int16_t, Shift> {
  static void row(const std::int32_t* acc, std::int16_t* dst, std::size_t n) {
    std::size_t x = 0;
#if defined(__SSE2__)
    const __m128i low = _mm_setzero_si128(), high = _mm_set1_epi16(between_max);
    for (; x + 8 <= n; x += 8) {
      auto* in = reinterpret_cast<const __m128i*>(acc + x);
      __m128i a = _mm_srai_epi32(_mm_loadu_si128(in), Shift);
      __m128i b = _mm_srai_epi32(_mm_loadu_si128(in + 1), Shift);
      __m128i v = _mm_min_epi16(_mm_max_epi16(_mm_packs_epi32(a, b), low), high);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x), v);
    }
#endif
    for (; x < n; ++x)
      dst[x] = static_cast<std::int16_t>(std::clamp(acc[x] >> Shift, 0, between_max));
  }
};

/// The second pass: to bytes.
template <int Shift>
struct store<std::uint8_t, Shift> {
  static void row(const std::int32_t* acc, std::uint8_t* dst, std::size_t n) {
    std::size_t x = 0;
#if defined(__SSE2__)
    for (; x + 8 <= n; x += 8) {
      auto* in = reinterpret_cast<const __m128i*>(acc + x);
      __m128i a = _mm_srai_epi32(_mm_loadu_si128(in), Shift);
      __m128i b = _mm_srai_epi32(_mm_loadu_si128(in + 1), Shift);
      __m128i v = _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_setzero_si128());
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + x), v);
    }
#endif
    for (; x < n; ++x)
      dst[x] = static_cast<std::uint8_t>(std::clamp(acc[x] >> Shift, 0, 255));
  }
};

#if defined(__SSE2__)
/// Two rows' values interleaved as 16-bit pairs (a0 b0 a1 b1 ...): 16 bytes of each give four
/// registers, 8 16-bit values of each give two.
inline void interleave(const std::uint8_t* a, const std::uint8_t* b, __m128i (&pairs)[4]) {
  const __m128i zero = _mm_setzero_si128();
  __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  __m128i lo = _mm_unpacklo_epi8(va, vb), hi = _mm_unpackhi_epi8(va, vb);
  pairs[0] = _mm_unpacklo_epi8(lo, zero);
  pairs[1] = _mm_unpackhi_epi8(lo, zero);
  pairs[2] = _mm_unpacklo_epi8(hi, zero);
  pairs[3] = _mm_unpackhi_epi8(hi, zero);
}
inline void interleave(const std::int16_t* a, const std::int16_t* b, __m128i (&pairs)[2]) {
  __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  pairs[0] = _mm_unpacklo_epi16(va, vb);
  pairs[1] = _mm_unpackhi_epi16(va, vb);
}
#endif

/// Adds `weight` × row `src` and `weight2` × row `src2` to `acc` (`n` values each).
template <class In>
void add_rows(std::int32_t* acc, const In* src, std::int32_t weight, const In* src2,
              std::int32_t weight2, std::size_t n) {
  std::size_t x = 0;
#if defined(__SSE2__)
  // Two taps per multiply: the pairs times the pair of weights, summed into 32 bits
  // (`pmaddwd`).
  const __m128i weights = _mm_set1_epi32(static_cast<std::int32_t>(
      static_cast<std::uint32_t>(static_cast<std::uint16_t>(weight)) |
      (static_cast<std::uint32_t>(static_cast<std::uint16_t>(weight2)) << 16)));
  constexpr std::size_t step = 16 / sizeof(In);
  for (; x + step <= n; x += step) {
    __m128i pairs[step / 4];
    interleave(src + x, src2 + x, pairs);
    auto* out = reinterpret_cast<__m128i*>(acc + x);
    for (std::size_t i = 0; i < step / 4; ++i)
      _mm_storeu_si128(out + i,
                       _mm_add_epi32(_mm_loadu_si128(out + i), _mm_madd_epi16(pairs[i], weights)));
  }
#endif
  for (; x < n; ++x)
    acc[x] += weight * src[x] + weight2 * src2[x];
}

/// One pass: rows of `in` (`row` values each, `in_stride` values apart) reduced to output rows
/// `from` to `from + count` of `rows`, written to `out` (`row` values apart), two taps at a
/// time over whole rows.
template <class In, class Out, int Shift>
void reduce_rows(const In* in, std::size_t in_stride, std::size_t row, const taps& rows,
                 std::size_t from, std::size_t count, Out* out) {
  std::vector<std::int32_t> acc(row);
  for (std::size_t y = from; y < from + count; ++y) {
    std::fill(acc.begin(), acc.end(), std::int32_t{1} << (Shift - 1)); // rounds to nearest
    const auto* w = &rows.weights[y * static_cast<std::size_t>(rows.stride)];
    const In* first = in + static_cast<std::size_t>(rows.first[y]) * in_stride;
    int taken = rows.count[y], t = 0;
    for (; t + 1 < taken; t += 2)
      add_rows(acc.data(), first + static_cast<std::size_t>(t) * in_stride, w[t],
               first + static_cast<std::size_t>(t + 1) * in_stride, w[t + 1], row);
    if (t < taken) { // an odd tap: its row twice, the second time weighing nothing
      const In* last = first + static_cast<std::size_t>(t) * in_stride;
      add_rows(acc.data(), last, w[t], last, 0, row);
    }
    store<Out, Shift>::row(acc.data(), out + (y - from) * row, row);
  }
}

/// `in`, `rows` rows of `cols` pixels of `Bands` values, transposed into `out`: `cols` rows of
/// `rows` pixels.
template <int Bands, class T>
void transpose(const T* in, std::size_t rows, std::size_t cols, T* out) {
  constexpr std::size_t tile = 32; // both sides stay in cache
  for (std::size_t y0 = 0; y0 < rows; y0 += tile)
    for (std::size_t x0 = 0; x0 < cols; x0 += tile)
      for (std::size_t y = y0; y < std::min(rows, y0 + tile); ++y)
        for (std::size_t x = x0; x < std::min(cols, x0 + tile); ++x)
          for (int b = 0; b < Bands; ++b)
            out[(x * rows + y) * Bands + b] = in[(y * cols + x) * Bands + b];
}

/// Output rows made per strip: the working memory is a strip's worth of input-wide rows, not
/// the whole image's (a wide input shrunk little would otherwise need several times its size).
constexpr std::size_t strip_rows = 32;

/// The two passes over an image of `Bands` bands, a strip of output rows at a time: the
/// vertical pass, then the horizontal one as a vertical pass over the transposed strip (both
/// run over whole rows), then back.
template <int Bands>
void resample_into(const std::uint8_t* in, std::size_t in_stride, std::size_t in_width,
                   const taps& rows, const taps& cols, std::uint8_t* out) {
  std::size_t h = rows.first.size(), w = cols.first.size();
  std::vector<std::int16_t> shrunk(in_width * Bands * strip_rows), turned(shrunk.size());
  std::vector<std::uint8_t> done(w * Bands * strip_rows);
  for (std::size_t y0 = 0; y0 < h; y0 += strip_rows) {
    std::size_t k = std::min(strip_rows, h - y0);
    reduce_rows<std::uint8_t, std::int16_t, weight_bits - between_bits>(
        in, in_stride, in_width * Bands, rows, y0, k, shrunk.data());
    transpose<Bands>(shrunk.data(), k, in_width, turned.data());
    reduce_rows<std::int16_t, std::uint8_t, weight_bits + between_bits>(
        turned.data(), k * Bands, k * Bands, cols, 0, w, done.data());
    transpose<Bands>(done.data(), w, k, out + y0 * w * Bands);
  }
}

} // namespace

bool resamplable(const vips::VImage& img, int width, int height, VipsKernel kernel) {
  auto* image = img.get_image();
  bool in_memory = image != nullptr && image->data != nullptr &&
                   (image->dtype == VIPS_IMAGE_SETBUF || image->dtype == VIPS_IMAGE_SETBUF_FOREIGN);
  return in_memory && img.format() == VIPS_FORMAT_UCHAR && img.coding() == VIPS_CODING_NONE &&
         img.bands() >= 1 && img.bands() <= 4 && width >= 1 && height >= 1 &&
         width <= img.width() && height <= img.height() && kernel != VIPS_KERNEL_NEAREST;
}

vips::VImage resample(const vips::VImage& img, int width, int height, VipsKernel kernel) {
  auto* in = img.get_image();
  auto rows = make_taps(img.height(), height, kernel);
  auto cols = make_taps(img.width(), width, kernel);

  VipsImage* out = vips_image_new_memory();
  // The header and metadata of the input (profile, resolution, interpretation), at the new size.
  if (vips_image_pipelinev(out, VIPS_DEMAND_STYLE_ANY, in, nullptr) != 0) {
    g_object_unref(out);
    throw std::bad_alloc();
  }
  out->Xsize = width;
  out->Ysize = height;
  if (vips_image_write_prepare(out) != 0) { // the only way it fails for a memory image
    g_object_unref(out);
    throw std::bad_alloc();
  }
  const auto* pixels = VIPS_IMAGE_ADDR(in, 0, 0);
  auto stride = static_cast<std::size_t>(VIPS_IMAGE_SIZEOF_LINE(in));
  auto in_width = static_cast<std::size_t>(img.width());
  auto* result = VIPS_IMAGE_ADDR(out, 0, 0);
  switch (img.bands()) {
    case 1:
      resample_into<1>(pixels, stride, in_width, rows, cols, result);
      break;
    case 2:
      resample_into<2>(pixels, stride, in_width, rows, cols, result);
      break;
    case 3:
      resample_into<3>(pixels, stride, in_width, rows, cols, result);
      break;
    default:
      resample_into<4>(pixels, stride, in_width, rows, cols, result);
      break;
  }
  return vips::VImage(out); // takes over the reference
}

} // namespace loopbridge::actors::detail
