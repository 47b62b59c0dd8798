// Writes a small labelled image folder of synthetic "X-rays": NORMAL images are smooth lung-like
// fields, PNEUMONIA images add bright opacities. Learnable in a few epochs by the tiny network.
//
//   WriteSyntheticFolder(dir.path(), /*per_class=*/40, /*seed=*/1);   //
//   dir/{NORMAL,PNEUMONIA}/*.png
#pragma once

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>

namespace pneumo::testing {

inline cv::Mat SyntheticXray(bool pneumonia, std::mt19937& rng, int side = 96) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  cv::Mat img(side, side, CV_8UC1, cv::Scalar(30));
  // Two dark lung fields on a brighter body.
  cv::ellipse(img, {side / 3, side / 2}, {side / 7, side / 3}, 0, 0, 360,
              cv::Scalar(90 + 40 * u(rng)), -1);
  cv::ellipse(img, {2 * side / 3, side / 2}, {side / 7, side / 3}, 0, 0, 360,
              cv::Scalar(90 + 40 * u(rng)), -1);
  if (pneumonia) {
    for (int k = 0; k < 3; ++k) {
      const cv::Point c(static_cast<int>(side * (0.25 + 0.5 * u(rng))),
                        static_cast<int>(side * (0.3 + 0.4 * u(rng))));
      cv::circle(img, c, static_cast<int>(side * (0.06 + 0.05 * u(rng))), cv::Scalar(220), -1);
    }
  }
  cv::GaussianBlur(img, img, {0, 0}, 2.0);
  cv::Mat noise(img.size(), CV_8UC1);
  cv::theRNG().state = rng();  // keep the noise reproducible too
  cv::randu(noise, 0, 20);
  return img + noise;
}

// File names follow the Kermany patterns, one patient per image.
inline void WriteSyntheticFolder(const std::filesystem::path& dir, int per_class, unsigned seed) {
  std::mt19937 rng(seed);
  std::filesystem::create_directories(dir / "NORMAL");
  std::filesystem::create_directories(dir / "PNEUMONIA");
  for (int i = 0; i < per_class; ++i) {
    cv::imwrite((dir / "NORMAL" / ("IM-" + std::to_string(1000 + i) + "-0001.png")).string(),
                SyntheticXray(false, rng));
    cv::imwrite((dir / "PNEUMONIA" / ("person" + std::to_string(i) + "_bacteria_1.png")).string(),
                SyntheticXray(true, rng));
  }
}

}  // namespace pneumo::testing
