// Reader -> workers -> the caller, in order. The calling thread reads items into chunks (a few dozen items, a
// few hundred KB) and queues them; each worker classifies whole chunks with its own mapper; next() hands out the
// oldest chunk's items once it is done. Reading ahead stops at pipeline_bytes_in_flight, so memory is bounded
// by the budget plus one chunk, never by the file.
#include "omt/import/classify_pipeline.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace omt::import {
namespace {

// What an item holds, roughly, to count it against the budget.
std::size_t item_bytes(const Item& item) {
  return std::visit(
      [](const auto& i) -> std::size_t {
        using T = std::decay_t<decltype(i)>;
        if constexpr (std::is_same_v<T, BadRow>) return sizeof(BadRow) + i.field.size() + i.reason.size();
        else return sizeof(T) + i.json.size();
      },
      item);
}

const SourcePlace& place_of(const Item& item) {
  return std::visit([](const auto& i) -> const SourcePlace& { return i.at; }, item);
}

// Walks a file's hints item by item; nullopt for every item when the file has none.
class HintCursor {
 public:
  explicit HintCursor(const ItemHints* hints) : hints_(hints && *hints ? &**hints : nullptr) {}
  std::optional<std::uint8_t> next() {
    if (!hints_) return std::nullopt;
    while (run_ < hints_->size() && used_ == (*hints_)[run_].items) ++run_, used_ = 0;
    if (run_ == hints_->size()) return std::nullopt;
    ++used_;
    return (*hints_)[run_].what;
  }

 private:
  const std::vector<ItemRun>* hints_;
  std::size_t run_ = 0;
  std::uint32_t used_ = 0;
};

struct Chunk {
  std::vector<PipelineItem> out;    // every item read, in order
  std::vector<Item> wanted;         // the items to classify...
  std::vector<std::size_t> slots;   // ...and where each one's outcome goes in `out`
  std::vector<std::string> used;    // the events' texts once classified: back to the reader, to fill again
  std::size_t bytes = 0;
  bool done = false;  // under Shared::mutex

  void clear() {
    out.clear();
    wanted.clear();
    slots.clear();
    used.clear();
    bytes = 0;
    done = false;
  }
};

// Chunks kept for reuse by the reading thread, with their vectors' room: a chunk is made and let go by that
// thread alone, whatever worker classified it.
constexpr std::size_t kSpareChunks = 32;

}  // namespace

std::size_t default_transform_threads() {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
}

struct ClassifyPipeline::Shared {
  Shared(ItemReader& r, const ItemHints* h, Wanted w) : reader(r), hints(h), wanted(std::move(w)) {}

  ItemReader& reader;
  HintCursor hints;
  Wanted wanted;
  std::deque<EventMapper> mappers;  // one per worker (a deque: never moved once made)
  std::vector<std::thread> workers;

  std::mutex mutex;
  std::condition_variable work_ready, chunk_done;
  std::deque<Chunk*> todo;  // under mutex
  bool stopping = false;    // under mutex

  // The calling thread's alone.
  std::deque<std::unique_ptr<Chunk>> window;  // queued or done, oldest first
  std::size_t bytes_in_flight = 0;
  std::unique_ptr<Chunk> current;  // being handed out
  std::vector<std::unique_ptr<Chunk>> spare_chunks;
  std::size_t handed = 0;
  bool reader_done = false;
  std::optional<Error> reader_error;

  void work(EventMapper& mapper) {
    for (;;) {
      Chunk* chunk = nullptr;
      {
        std::unique_lock lock(mutex);
        work_ready.wait(lock, [&] { return stopping || !todo.empty(); });
        if (stopping) return;
        chunk = todo.front();
        todo.pop_front();
      }
      for (std::size_t i = 0; i < chunk->wanted.size(); ++i) {
        Item& item = chunk->wanted[i];
        chunk->out[chunk->slots[i]].classified = classify(std::move(item), mapper);
        if (auto* event = std::get_if<EventItem>(&item)) chunk->used.push_back(std::move(event->json));
      }
      chunk->wanted.clear();
      {
        std::lock_guard lock(mutex);
        chunk->done = true;
      }
      chunk_done.notify_all();
    }
  }

  // A chunk handed out: its texts back to the reader, itself kept for the next fill.
  void recycle(std::unique_ptr<Chunk> chunk) {
    if (!chunk) return;
    for (auto& text : chunk->used) reader.give_back(std::move(text));
    chunk->clear();
    if (spare_chunks.size() < kSpareChunks) spare_chunks.push_back(std::move(chunk));
  }

  // Reads chunks until the budget is spent or the reader ends.
  void fill() {
    while (!reader_done && bytes_in_flight < pipeline_bytes_in_flight) {
      std::unique_ptr<Chunk> chunk;
      if (spare_chunks.empty()) {
        chunk = std::make_unique<Chunk>();
      } else {
        chunk = std::move(spare_chunks.back());
        spare_chunks.pop_back();
      }
      while (chunk->out.size() < pipeline_chunk_items && chunk->bytes < pipeline_chunk_bytes) {
        auto item = reader.next();
        if (!item) {
          reader_error = std::move(item.error());
          reader_done = true;
          break;
        }
        if (!*item) {
          reader_done = true;
          break;
        }
        PipelineItem& p = chunk->out.emplace_back();
        p.hint = hints.next();
        if (!wanted || wanted(**item, p.hint)) {
          p.at = place_of(**item);
          chunk->bytes += item_bytes(**item);
          chunk->slots.push_back(chunk->out.size() - 1);
          chunk->wanted.push_back(std::move(**item));
        } else {
          p.at = std::move(std::visit([](auto& i) -> SourcePlace& { return i.at; }, **item));
          chunk->bytes += sizeof(PipelineItem);
        }
      }
      if (chunk->out.empty()) {
        spare_chunks.push_back(std::move(chunk));
        break;
      }
      bytes_in_flight += chunk->bytes;
      Chunk* queued = chunk.get();
      window.push_back(std::move(chunk));
      if (queued->wanted.empty()) {
        queued->done = true;  // nothing to classify: no worker sees it
        continue;
      }
      {
        std::lock_guard lock(mutex);
        todo.push_back(queued);
      }
      work_ready.notify_one();
    }
  }
};

ClassifyPipeline::ClassifyPipeline(ItemReader& reader, const EventMapper& mapper, std::size_t threads, const ItemHints* hints,
                                   Wanted wanted)
    : shared_(std::make_unique<Shared>(reader, hints, std::move(wanted))) {
  const std::size_t n = std::max<std::size_t>(threads, 1);
  for (std::size_t i = 0; i < n; ++i) shared_->mappers.push_back(mapper.another());
  for (auto& m : shared_->mappers) shared_->workers.emplace_back([shared = shared_.get(), &m] { shared->work(m); });
}

ClassifyPipeline::~ClassifyPipeline() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->todo.clear();
  }
  shared_->work_ready.notify_all();
  for (auto& w : shared_->workers) w.join();  // a worker finishes the chunk it holds, then sees the stop
}

Expected<std::optional<PipelineItem>> ClassifyPipeline::next() {
  Shared& s = *shared_;
  for (;;) {
    if (s.current && s.handed < s.current->out.size()) return std::optional<PipelineItem>(std::move(s.current->out[s.handed++]));
    s.recycle(std::move(s.current));
    s.handed = 0;
    s.fill();
    if (s.window.empty()) {
      if (s.reader_error) {
        Error error = std::move(*s.reader_error);
        s.reader_error.reset();
        return tl::unexpected(std::move(error));
      }
      return std::optional<PipelineItem>{};
    }
    Chunk* oldest = s.window.front().get();
    {
      std::unique_lock lock(s.mutex);
      s.chunk_done.wait(lock, [&] { return oldest->done; });
    }
    s.bytes_in_flight -= oldest->bytes;
    s.current = std::move(s.window.front());
    s.window.pop_front();
  }
}

}  // namespace omt::import
