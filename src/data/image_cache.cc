#include "data/image_cache.h"

#include "core/logging.h"
#include "core/parallel_for.h"
#include "image/decode.h"
#include "image/preprocess.h"

namespace pneumo::data {

Result<ImageCache> ImageCache::Build(const std::vector<LabeledImage>& images, int input_size,
                                     int threads, bool trim_borders) {
  std::vector<cv::Mat> decoded(images.size());
  std::vector<Error> errors(images.size(), Error{ErrorCode::kInternal, ""});
  auto done = ParallelFor(0, images.size(), threads, [&](std::size_t i) {
    auto gray = image::DecodeImageFile(images[i].path);
    if (gray) {
      decoded[i] = image::ResizeForModel(trim_borders ? image::TrimUniformBorders(*gray) : *gray,
                                         input_size);
    } else {
      errors[i] = gray.error();
    }
  });
  if (!done) return std::unexpected(done.error());

  ImageCache cache;
  cache.input_size_ = input_size;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (decoded[i].empty()) {
      ++cache.skipped_;
      spdlog::warn("event=image_skipped index={} error={}", i, errors[i].ToString());
      continue;
    }
    cache.images_.push_back(std::move(decoded[i]));
    cache.labels_.push_back(images[i].label);
  }
  if (cache.images_.empty()) return Fail(ErrorCode::kNotFound, "no image could be decoded");
  return cache;
}

ImageCache ImageCache::FromImages(std::vector<cv::Mat> images, std::vector<int> labels, int side) {
  ImageCache cache;
  cache.images_ = std::move(images);
  cache.labels_ = std::move(labels);
  cache.input_size_ = side;
  return cache;
}

}  // namespace pneumo::data
