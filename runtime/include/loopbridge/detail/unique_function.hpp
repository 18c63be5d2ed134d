#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace loopbridge::detail {

/// A move-only `void()` callable (std::function requires copyable targets, which rules out
/// lambdas that own a responder).
class unique_function {
public:
  unique_function() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function>>>
  unique_function(F f) : impl_(std::make_unique<model<F>>(std::move(f))) {}
  unique_function(unique_function&&) noexcept = default;
  unique_function& operator=(unique_function&&) noexcept = default;

  explicit operator bool() const noexcept { return impl_ != nullptr; }
  void operator()() { impl_->call(); }

private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual void call() = 0;
  };
  template <class F>
  struct model final : concept_t {
    explicit model(F f) : fn(std::move(f)) {}
    void call() override { fn(); }
    F fn;
  };
  std::unique_ptr<concept_t> impl_;
};

} // namespace loopbridge::detail
