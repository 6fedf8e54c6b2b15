// The items of one reader classified (events transformed) on worker threads and handed out in reading order, so
// that the plan pass and the passes use every core while what they see, item by item, is what a single thread
// would see: checkpoints stay exact. Reading stays on the calling thread; memory is bounded by a byte budget of
// items in flight, whatever the file's size. Never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "omt/error.hpp"
#include "omt/import/import_run.hpp"

namespace omt::import {

// Items read ahead at most (input bytes, beyond the one chunk being filled) and per chunk handed to a worker.
inline constexpr std::size_t pipeline_bytes_in_flight = 4u << 20;
// A chunk is one hand-off each way (one wake-up of a worker, one of the reader): large enough that hand-offs
// cost little beside the transform, small enough that every worker has several in the budget.
inline constexpr std::size_t pipeline_chunk_bytes = 512u << 10;
inline constexpr std::size_t pipeline_chunk_items = 128;

// The threads to transform on when not told: the machine's cores, at most 4 (the writer and the reader need some).
std::size_t default_transform_threads();

struct PipelineItem {
  SourcePlace at;
  std::optional<std::uint8_t> hint;       // the plan pass's hint for the item, if the file has hints
  std::optional<Classified> classified;   // unset when `wanted` said the item needs no transform
};

class ClassifyPipeline {
 public:
  // Decides, on the reading thread and in reading order, whether an item is classified; one that is not is
  // handed on as its place and hint only. Null: every item is.
  using Wanted = std::function<bool(const Item& item, std::optional<std::uint8_t> hint)>;
  // `mapper` is copied once per worker (EventMapper::another); `hints` (may be null) must outlive the pipeline.
  ClassifyPipeline(ItemReader& reader, const EventMapper& mapper, std::size_t threads, const ItemHints* hints = nullptr,
                   Wanted wanted = nullptr);
  ~ClassifyPipeline();
  ClassifyPipeline(const ClassifyPipeline&) = delete;
  ClassifyPipeline& operator=(const ClassifyPipeline&) = delete;

  // The next item in reading order; nullopt at the end; a reader's error once every item read before it was
  // handed out.
  Expected<std::optional<PipelineItem>> next();

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

}  // namespace omt::import
