#include "data/stress.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <vector>

namespace pneumo::data {
namespace {

cv::Mat Clamp01(cv::Mat x) {
  cv::min(cv::max(x, 0.0), 1.0, x);
  return x;
}

cv::Mat Gain(const cv::Mat& x, double gain, double offset) {
  cv::Mat out;
  x.convertTo(out, CV_32F, gain, offset);
  return Clamp01(out);
}

cv::Mat Gamma(const cv::Mat& x, double gamma) {
  cv::Mat out = Clamp01(x.clone());
  cv::pow(out, gamma, out);
  return out;
}

cv::Mat ToByte(const cv::Mat& x) {
  cv::Mat out;
  x.convertTo(out, CV_8U, 255.0);
  return out;
}

cv::Mat FromByte(const cv::Mat& x) {
  cv::Mat out;
  x.convertTo(out, CV_32F, 1.0 / 255.0);
  return out;
}

// Resampling keeps the source's size so that the model's own resize does the rest.
cv::Mat ResizeTo(const cv::Mat& x, cv::Size size) {
  cv::Mat out;
  const bool shrinking = x.cols > size.width || x.rows > size.height;
  cv::resize(x, out, size, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

cv::Mat Rotate(const cv::Mat& x, double degrees) {
  const cv::Point2f center(static_cast<float>(x.cols) / 2.0f, static_cast<float>(x.rows) / 2.0f);
  cv::Mat out;
  cv::warpAffine(x, out, cv::getRotationMatrix2D(center, degrees, 1.0), x.size(), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, cv::Scalar(0));
  return out;
}

cv::Mat Clean(const cv::Mat& x, std::uint64_t) { return x.clone(); }
cv::Mat Underexposed(const cv::Mat& x, std::uint64_t) { return Gamma(x, 1.6); }
cv::Mat Overexposed(const cv::Mat& x, std::uint64_t) { return Gamma(x, 0.6); }
cv::Mat Brighter(const cv::Mat& x, std::uint64_t) { return Gain(x, 1.3, 0.05); }
cv::Mat Darker(const cv::Mat& x, std::uint64_t) { return Gain(x, 0.7, 0.0); }

cv::Mat ContrastCompressed(const cv::Mat& x, std::uint64_t) {
  const double mean = cv::mean(x)[0];
  return Gain(x, 0.55, 0.45 * mean);
}

cv::Mat ContrastStretched(const cv::Mat& x, std::uint64_t) {
  const double mean = cv::mean(x)[0];
  return Gain(x, 1.5, -0.5 * mean);
}

cv::Mat HistogramEqualized(const cv::Mat& x, std::uint64_t) {
  cv::Mat bytes = ToByte(x);
  cv::equalizeHist(bytes, bytes);
  return FromByte(bytes);
}

// Another film or detector processing curve: an S-shaped look-up table.
cv::Mat FilmCurve(const cv::Mat& x, std::uint64_t) {
  cv::Mat out(x.size(), CV_32F);
  const double lo = 1.0 / (1.0 + std::exp(4.0)), hi = 1.0 / (1.0 + std::exp(-4.0));
  x.forEach<float>([&](float v, const int* p) {
    const double s = 1.0 / (1.0 + std::exp(-8.0 * (static_cast<double>(v) - 0.5)));
    out.at<float>(p[0], p[1]) = static_cast<float>((s - lo) / (hi - lo));
  });
  return Clamp01(out);
}

cv::Mat Blurred(const cv::Mat& x, std::uint64_t) {
  cv::Mat out;
  cv::GaussianBlur(x, out, cv::Size(0, 0), std::max(1.0, x.cols / 150.0));
  return out;
}

cv::Mat Sharpened(const cv::Mat& x, std::uint64_t) {
  cv::Mat soft, out;
  cv::GaussianBlur(x, soft, cv::Size(0, 0), std::max(1.5, x.cols / 110.0));
  cv::addWeighted(x, 2.2, soft, -1.2, 0.0, out);
  return Clamp01(out);
}

cv::Mat Noisy(const cv::Mat& x, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  cv::Mat out = x.clone();
  for (int r = 0; r < out.rows; ++r) {
    float* row = out.ptr<float>(r);
    for (int c = 0; c < out.cols; ++c) row[c] += normal(rng);
  }
  return Clamp01(out);
}

cv::Mat JpegRecompressed(const cv::Mat& x, std::uint64_t) {
  std::vector<std::uint8_t> encoded;
  cv::imencode(".jpg", ToByte(x), encoded, {cv::IMWRITE_JPEG_QUALITY, 15});
  return FromByte(cv::imdecode(encoded, cv::IMREAD_GRAYSCALE));
}

cv::Mat LowResolution(const cv::Mat& x, std::uint64_t) {
  return ResizeTo(ResizeTo(x, cv::Size(std::max(1, x.cols * 2 / 5), std::max(1, x.rows * 2 / 5))),
                  x.size());
}

// Tighter collimation: the central 80% of each side, stretched back.
cv::Mat ZoomIn(const cv::Mat& x, std::uint64_t) {
  const int w = x.cols * 4 / 5, h = x.rows * 4 / 5;
  return ResizeTo(x(cv::Rect((x.cols - w) / 2, (x.rows - h) / 2, w, h)), x.size());
}

// Wider field of view: the image shrunk to 75% inside a black surround.
cv::Mat ZoomOut(const cv::Mat& x, std::uint64_t) {
  const int w = x.cols * 3 / 4, h = x.rows * 3 / 4;
  cv::Mat out(x.size(), CV_32F, cv::Scalar(0));
  ResizeTo(x, cv::Size(w, h)).copyTo(out(cv::Rect((x.cols - w) / 2, (x.rows - h) / 2, w, h)));
  return out;
}

// The top of the film cut off (apices missing), the rest stretched to the full height.
cv::Mat CropTop(const cv::Mat& x, std::uint64_t) {
  const int cut = x.rows * 3 / 20;
  return ResizeTo(x(cv::Rect(0, cut, x.cols, x.rows - cut)), x.size());
}

// One side cut off, as with an off-centre patient.
cv::Mat CropSide(const cv::Mat& x, std::uint64_t) {
  const int cut = x.cols * 3 / 20;
  return ResizeTo(x(cv::Rect(cut, 0, x.cols - cut, x.rows)), x.size());
}

// A white film edge or collimator band added on the left and right.
cv::Mat BorderAdded(const cv::Mat& x, std::uint64_t) {
  const int band = x.cols / 8;
  cv::Mat padded;
  cv::copyMakeBorder(x, padded, 0, 0, band, band, cv::BORDER_CONSTANT, cv::Scalar(1.0));
  return ResizeTo(padded, x.size());
}

cv::Mat RotatedLeft(const cv::Mat& x, std::uint64_t) { return Rotate(x, 7.0); }
cv::Mat RotatedRight(const cv::Mat& x, std::uint64_t) { return Rotate(x, -7.0); }

// A burned-in side marker and label, as radiographers and PACS add them.
cv::Mat Marker(const cv::Mat& x, std::uint64_t seed) {
  cv::Mat out = x.clone();
  const double scale = x.cols / 224.0;
  const bool right = (seed & 1) != 0;
  const int size = static_cast<int>(28 * scale);
  const cv::Point corner(
      right ? x.cols - size - static_cast<int>(8 * scale) : static_cast<int>(8 * scale),
      static_cast<int>(8 * scale));
  cv::rectangle(out, cv::Rect(corner.x, corner.y, size, size), cv::Scalar(1.0), cv::FILLED);
  cv::putText(out, right ? "R" : "L", corner + cv::Point(size / 5, size * 4 / 5),
              cv::FONT_HERSHEY_SIMPLEX, 0.8 * scale, cv::Scalar(0.0),
              std::max(1, static_cast<int>(2 * scale)));
  cv::putText(out, "PORTABLE AP",
              cv::Point(static_cast<int>(8 * scale), x.rows - static_cast<int>(10 * scale)),
              cv::FONT_HERSHEY_SIMPLEX, 0.45 * scale, cv::Scalar(1.0),
              std::max(1, static_cast<int>(scale)));
  return out;
}

constexpr std::array kConditions{
    StressCondition{"clean", "the validation image as acquired", Clean},
    StressCondition{"gamma_1.6", "under-exposed: gamma 1.6 (darker mid-tones)", Underexposed},
    StressCondition{"gamma_0.6", "over-exposed: gamma 0.6 (brighter mid-tones)", Overexposed},
    StressCondition{"gain_1.3", "brighter with clipped highlights: 1.3 x + 0.05", Brighter},
    StressCondition{"gain_0.7", "darker: 0.7 x", Darker},
    StressCondition{"contrast_0.55", "contrast compressed to 55% around the mean",
                    ContrastCompressed},
    StressCondition{"contrast_1.5", "contrast stretched to 150% around the mean, clipped",
                    ContrastStretched},
    StressCondition{"histogram_equalized",
                    "global histogram equalisation (another processing chain)", HistogramEqualized},
    StressCondition{"film_curve", "S-shaped processing curve (another film or detector)",
                    FilmCurve},
    StressCondition{"blur", "Gaussian blur, sigma 1.5 px at 224 px (softer detector, motion)",
                    Blurred},
    StressCondition{"sharpen", "strong unsharp masking (edge-enhancing processing)", Sharpened},
    StressCondition{"noise", "Gaussian noise, sigma 0.05 (low dose)", Noisy},
    StressCondition{"jpeg_q15", "JPEG re-compression at quality 15", JpegRecompressed},
    StressCondition{"low_resolution", "down to 40% of the side and back up", LowResolution},
    StressCondition{"zoom_in", "central 80% of each side (tighter collimation)", ZoomIn},
    StressCondition{"zoom_out", "shrunk to 75% inside a black surround (wider field)", ZoomOut},
    StressCondition{"crop_top", "top 15% cut off (apices missing)", CropTop},
    StressCondition{"crop_side", "left 15% cut off (off-centre patient)", CropSide},
    StressCondition{"border_added",
                    "white bands of 12.5% added left and right (film edge, collimator)",
                    BorderAdded},
    StressCondition{"rotate_+7", "rotated 7 degrees counter-clockwise", RotatedLeft},
    StressCondition{"rotate_-7", "rotated 7 degrees clockwise", RotatedRight},
    StressCondition{"marker", "burned-in side marker and label text", Marker},
};

}  // namespace

std::span<const StressCondition> StressConditions() { return kConditions; }

const StressCondition* FindStressCondition(std::string_view name) {
  for (const auto& c : kConditions)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace pneumo::data
