// Every image of a split decoded once and held in memory at the model's input size, so that
// epochs after the first cost no decoding.
//
//   auto cache = ImageCache::Build(images, /*input_size=*/224, /*threads=*/2);
//   const cv::Mat& x = cache->image(i);   // CV_32FC1 in [0, 1], input_size x input_size
//   int y = cache->label(i);
//
// Build decodes through the same DecodeImageFile + ResizeForModel path that serving uses.
// Thread-safe for concurrent reads after Build returns.
#pragma once

#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image_folder.h"

namespace pneumo::data {

class ImageCache {
 public:
  // Files that fail to decode are left out and counted in skipped(); kNotFound if none decode.
  // `trim_borders`: image::TrimUniformBorders before resizing, as serving does.
  static Result<ImageCache> Build(const std::vector<LabeledImage>& images, int input_size,
                                  int threads, bool trim_borders = false);

  // Images already decoded and sized (CV_32FC1 in [0, 1], all side x side), e.g. shifted copies.
  static ImageCache FromImages(std::vector<cv::Mat> images, std::vector<int> labels, int side);

  std::size_t size() const { return images_.size(); }
  const cv::Mat& image(std::size_t i) const { return images_[i]; }
  int label(std::size_t i) const { return labels_[i]; }
  const std::vector<int>& labels() const { return labels_; }
  std::size_t skipped() const { return skipped_; }
  int input_size() const { return input_size_; }

 private:
  std::vector<cv::Mat> images_;
  std::vector<int> labels_;
  std::size_t skipped_ = 0;
  int input_size_ = 0;
};

}  // namespace pneumo::data
