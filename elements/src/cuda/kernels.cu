// SPDX-License-Identifier: MIT OR Apache-2.0
// The CUDA kernels of the GPU path. Each one is the twin of a CPU function in
// elements/src/algo/ and must give the same values: the tests compare them on real
// frames. Compiled to PTX ahead of time by elements/build.rs with NVRTC, with
// --fmad=false so that float expressions round exactly as the CPU's do.
//
// Frames are pitched planes of bytes as NVDEC and GStreamer's CUDA memory hold them.
// A plane has `c` interleaved channels (1 for Y, 2 for NV12's UV, 4 for RGBA).

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

// ---- masking (twin of algo/mask.rs) -------------------------------------------------

// algo::mask::PlaneShape::distance_outside
__device__ float distance_outside(float x0, float y0, float x1, float y1, int ellipse,
                                  int px, int py) {
    float cx = (float)px + 0.5f, cy = (float)py + 0.5f;
    if (ellipse) {
        float ex = (x0 + x1) / 2.0f, ey = (y0 + y1) / 2.0f;
        float a = fmaxf((x1 - x0) / 2.0f, 0.5f), b = fmaxf((y1 - y0) / 2.0f, 0.5f);
        float dx = cx - ex, dy = cy - ey;
        float qx = dx / a, qy = dy / b;
        float t = sqrtf(qx * qx + qy * qy);
        if (t <= 1.0f) return 0.0f;
        return sqrtf(dx * dx + dy * dy) * (1.0f - 1.0f / t);
    }
    float dx = fmaxf(fmaxf(x0 - cx, cx - x1), 0.0f);
    float dy = fmaxf(fmaxf(y0 - cy, cy - y1), 0.0f);
    return fmaxf(dx, dy);
}

// algo::mask::PlaneShape::depth_inside
__device__ float depth_inside(float x0, float y0, float x1, float y1, int ellipse, int px,
                              int py) {
    float cx = (float)px + 0.5f, cy = (float)py + 0.5f;
    if (ellipse) {
        float ex = (x0 + x1) / 2.0f, ey = (y0 + y1) / 2.0f;
        float a = fmaxf((x1 - x0) / 2.0f, 0.5f), b = fmaxf((y1 - y0) / 2.0f, 0.5f);
        float qx = (cx - ex) / a, qy = (cy - ey) / b;
        float t = sqrtf(qx * qx + qy * qy);
        return (1.0f - t) * fminf(a, b);
    }
    return fminf(fminf(cx - x0, x1 - cx), fminf(cy - y0, y1 - cy));
}

// Copies the extent (ew x eh pixels of c channels at ex0, ey0) of a plane into `work`,
// row-major and interleaved, as u32 (algo::mask::process's first step).
extern "C" __global__ void mask_load(const u8* plane, int pitch, int c, int ex0, int ey0,
                                     int ew, int eh, u32* work) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ew * c || y >= eh) return;
    work[y * ew * c + x] = plane[(size_t)(ey0 + y) * pitch + ex0 * c + x];
}

// Method::Fill: each channel with a fill value (>= 0) takes it.
extern "C" __global__ void mask_fill(u32* work, int ew, int eh, int c, int f0, int f1, int f2,
                                     int f3) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ew || y >= eh) return;
    int fill[4] = {f0, f1, f2, f3};
    for (int ch = 0; ch < c; ch++) {
        if (fill[ch] >= 0) work[(y * ew + x) * c + ch] = (u32)fill[ch];
    }
}

// Method::Pixelate: one thread per block and channel; blocks start at (first_x, first_y)
// (negative: the first block is cut by the extent) and are bx x by pixels.
extern "C" __global__ void mask_pixelate(u32* work, int ew, int eh, int c, int first_x,
                                         int first_y, int bx, int by) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    int ch = blockIdx.z;
    int bx0 = first_x + i * bx, by0 = first_y + j * by;
    if (bx0 >= ew || by0 >= eh) return;
    int x0 = max(bx0, 0), x1 = min(bx0 + bx, ew);
    int y0 = max(by0, 0), y1 = min(by0 + by, eh);
    u32 n = (u32)((y1 - y0) * (x1 - x0));
    u32 sum = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) sum += work[(y * ew + x) * c + ch];
    u32 mean = (sum + n / 2) / n;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) work[(y * ew + x) * c + ch] = mean;
}

// One running-sum box pass of radius r with edges clamped (algo::mask::box_pass), src to
// dst. Horizontal: a thread per row and channel; vertical: a thread per column and
// channel (neighbouring threads read neighbouring bytes). Rounded division as the CPU's.
__device__ __forceinline__ u32 rounded_div(u32 sum, u32 half, u64 m) {
    return (u32)(((u64)(sum + half) * m) >> 32);
}

extern "C" __global__ void mask_box_h(const u32* src, u32* dst, int ew, int eh, int c, int r,
                                      u64 m) {
    int line = blockIdx.x * blockDim.x + threadIdx.x;
    if (line >= eh * c) return;
    int y = line / c, ch = line % c;
    const u32* row = src + (size_t)y * ew * c + ch;
    u32* out = dst + (size_t)y * ew * c + ch;
    u32 win = 2 * r + 1, half = win / 2;
    // The padded line of the CPU version: index j holds row[clamp(j - r, 0, ew - 1)].
    u32 sum = 0;
    for (int j = 0; j < (int)win; j++) sum += row[min(max(j - r, 0), ew - 1) * c];
    for (int i = 0; i < ew; i++) {
        out[i * c] = rounded_div(sum, half, m);
        sum = sum + row[min(max(i + (int)win - r, 0), ew - 1) * c] - row[min(max(i - r, 0), ew - 1) * c];
    }
}

extern "C" __global__ void mask_box_v(const u32* src, u32* dst, int ew, int eh, int c, int r,
                                      u64 m) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    int n = ew * c;
    if (col >= n) return;
    u32 win = 2 * r + 1, half = win / 2;
    u32 sum = 0;
    for (int k = -r; k <= r; k++) sum += src[(size_t)min(max(k, 0), eh - 1) * n + col];
    for (int y = 0; y < eh; y++) {
        dst[(size_t)y * n + col] = rounded_div(sum, half, m);
        int add = min(max(y + r + 1, 0), eh - 1), sub = min(max(y - r, 0), eh - 1);
        sum = sum + src[(size_t)add * n + col] - src[(size_t)sub * n + col];
    }
}

// Writes the masked extent back where the shape (plus soft edge) covers each pixel
// (algo::mask::blend / blend_shaped).
extern "C" __global__ void mask_blend(u8* plane, int pitch, int c, int ex0, int ey0, int ew,
                                      int eh, const u32* work, float x0, float y0, float x1,
                                      float y1, int ellipse, float feather) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ew || y >= eh) return;
    float d = distance_outside(x0, y0, x1, y1, ellipse, ex0 + x, ey0 + y);
    float alpha;
    if (d <= 0.0f) alpha = 1.0f;
    else if (feather > 0.0f) alpha = fmaxf(1.0f - d / feather, 0.0f);
    else alpha = 0.0f;
    if (alpha <= 0.0f) return;
    u8* dst = plane + (size_t)(ey0 + y) * pitch + (ex0 + x) * c;
    const u32* src = work + (size_t)(y * ew + x) * c;
    for (int ch = 0; ch < c; ch++) {
        float s = (float)min(src[ch], 255u);
        if (alpha >= 1.0f) {
            dst[ch] = (u8)s;
        } else {
            float o = (float)dst[ch];
            dst[ch] = (u8)roundf(o + (s - o) * alpha);
        }
    }
}

// Method::Outline: the shape's border, `line` plane pixels deep, in the fill colour.
extern "C" __global__ void mask_outline(u8* plane, int pitch, int c, int ex0, int ey0, int ew,
                                        int eh, float x0, float y0, float x1, float y1,
                                        int ellipse, float line, int f0, int f1, int f2,
                                        int f3) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ew || y >= eh) return;
    int px = ex0 + x, py = ey0 + y;
    if (distance_outside(x0, y0, x1, y1, ellipse, px, py) > 0.0f ||
        depth_inside(x0, y0, x1, y1, ellipse, px, py) >= line)
        return;
    int fill[4] = {f0, f1, f2, f3};
    u8* dst = plane + (size_t)py * pitch + px * c;
    for (int ch = 0; ch < c; ch++) {
        if (fill[ch] >= 0) dst[ch] = (u8)fill[ch];
    }
}

// ---- reading pixels as RGB (twin of algo/frame.rs RowConverter) ------------------------

// Formats, as algo::frame::PixelFormat's order: I420, NV12, RGB, BGR, RGBA, BGRA, RGBx,
// BGRx, GRAY8.
#define FMT_I420 0
#define FMT_NV12 1
#define FMT_GRAY8 8

struct Source {
    const u8* p0;
    const u8* p1;
    const u8* p2;
    int pitch0, pitch1, pitch2;
    int format;
    int bpp;           // packed formats: bytes per pixel
    int r, g, b;       // packed formats: byte offsets
    const float* yuv;  // YuvTables: y, rv, gu, gv, bu, 256 each
};

__device__ __forceinline__ float clamp255(float v) { return fminf(fmaxf(v, 0.0f), 255.0f); }

// Pixel (x, y) as RGB floats in 0..255, as RowConverter::for_each_pixel gives it.
__device__ void pixel_rgb(const Source& s, int x, int y, float* rgb) {
    if (s.format == FMT_I420 || s.format == FMT_NV12) {
        u8 luma = s.p0[(size_t)y * s.pitch0 + x];
        u8 u, v;
        if (s.format == FMT_I420) {
            u = s.p1[(size_t)(y / 2) * s.pitch1 + x / 2];
            v = s.p2[(size_t)(y / 2) * s.pitch2 + x / 2];
        } else {
            const u8* uv = s.p1 + (size_t)(y / 2) * s.pitch1 + (x / 2) * 2;
            u = uv[0];
            v = uv[1];
        }
        const float* t = s.yuv;
        float yy = t[luma];
        rgb[0] = clamp255(yy + t[256 + v]);
        rgb[1] = clamp255(yy + t[512 + u] + t[768 + v]);
        rgb[2] = clamp255(yy + t[1024 + u]);
    } else if (s.format == FMT_GRAY8) {
        float g = (float)s.p0[(size_t)y * s.pitch0 + x];
        rgb[0] = g;
        rgb[1] = g;
        rgb[2] = g;
    } else {
        const u8* p = s.p0 + (size_t)y * s.pitch0 + x * s.bpp;
        rgb[0] = (float)p[s.r];
        rgb[1] = (float)p[s.g];
        rgb[2] = (float)p[s.b];
    }
}

// ---- model input (twin of algo/preprocess.rs Preprocessor::fill_tensor) -----------------

// preprocess::source_position: the two source samples and the weight of the second.
__device__ void source_position(int i, float scale, int len, int* i0, int* i1, float* w) {
    float s = fminf(fmaxf(((float)i + 0.5f) / scale - 0.5f, 0.0f), (float)(len - 1));
    int a = (int)floorf(s);
    *i0 = a;
    *i1 = min(a + 1, len - 1);
    *w = s - (float)a;
}

// Row y of the frame, resampled horizontally to output column ox, as the CPU caches it.
__device__ void row_sample(const Source& s, int y, int ox, int fw, int cw, float scale_x,
                           float* out) {
    if (cw == fw) {
        pixel_rgb(s, ox, y, out);
        return;
    }
    int x0, x1;
    float wx;
    source_position(ox, scale_x, fw, &x0, &x1, &wx);
    float a[3], b[3];
    pixel_rgb(s, x0, y, a);
    pixel_rgb(s, x1, y, b);
    for (int c = 0; c < 3; c++) out[c] = a[c] + (b[c] - a[c]) * wx;
}

// One thread per input pixel (x, y) of a W x H planar f32 tensor: the frame (fw x fh)
// resized bilinearly to cw x ch at (left, top), padding elsewhere, channels in RGB or BGR
// order, values times `scale`.
extern "C" __global__ void preprocess(Source s, int fw, int fh, float* out, int W, int H,
                                      int left, int top, int cw, int ch, float scale_x,
                                      float scale_y, int bgr, float scale, float pad) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= W || y >= H) return;
    size_t plane = (size_t)W * H, at = (size_t)y * W + x;
    int ox = x - left, oy = y - top;
    if (ox < 0 || oy < 0 || ox >= cw || oy >= ch) {
        out[at] = pad;
        out[plane + at] = pad;
        out[2 * plane + at] = pad;
        return;
    }
    float v[3];
    if (ch == fh) {
        row_sample(s, oy, ox, fw, cw, scale_x, v);
        for (int c = 0; c < 3; c++) v[c] = v[c] * scale;
    } else {
        int y0, y1;
        float wy;
        source_position(oy, scale_y, fh, &y0, &y1, &wy);
        float a[3];
        row_sample(s, y0, ox, fw, cw, scale_x, a);
        if (wy == 0.0f) {
            for (int c = 0; c < 3; c++) v[c] = a[c] * scale;
        } else {
            float b[3];
            row_sample(s, y1, ox, fw, cw, scale_x, b);
            for (int c = 0; c < 3; c++) v[c] = (a[c] + (b[c] - a[c]) * wy) * scale;
        }
    }
    out[(bgr ? 2 : 0) * plane + at] = v[0];
    out[plane + at] = v[1];
    out[(bgr ? 0 : 2) * plane + at] = v[2];
}

// ---- scene-cut sample (twin of algo/track.rs luma_sample) -------------------------------

// The luma of every 4th pixel of every 8th row: sw x sh bytes.
extern "C" __global__ void luma_sample(Source s, int fw, int fh, u8* out, int sw, int sh) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= sw || j >= sh) return;
    float p[3];
    pixel_rgb(s, 4 * i, 8 * j, p);
    float l = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    out[j * sw + i] = (u8)fminf(fmaxf(l, 0.0f), 255.0f);
}
