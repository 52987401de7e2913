// Reply: the one way an admin API route answers, and the one mapping from Status to HTTP.
//
// A Reply wraps the request's http::ResponseWriter behind a shared handle, so a route can
// copy it into the callbacks of asynchronous work (an `up` that answers when services settle)
// and answer exactly once from whichever runs; later answers are ignored. Every body is JSON
// serialised without throwing (invalid UTF-8 from a caller is replaced, not fatal), errors are
// {"error": "...", "exit": 1|2}.
//
// Threads: the loop thread of the listener that received the request, like the writer.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "http/message.h"
#include "http/server.h"

namespace slipway::api {

// The HTTP status for a failed operation: 400 bad input, 404 unknown thing, 409 conflicting
// state, 503 unavailable, 504 timed out, 500 anything else.
int HttpStatusOf(StatusCode code);

// A JSON response; never throws.
http::Response JsonResponse(int status, const nlohmann::json& body);
// The same response for a body already written as JSON text (a large answer written
// directly, without a json value per element).
http::Response JsonTextResponse(int status, std::string body);
// {"error": message, "exit": 1|2} with HttpStatusOf(code). `extra` fields are merged in.
http::Response ErrorResponse(const Status& st, const nlohmann::json& extra = nullptr);

class Reply {
  struct Shared;  // below

 public:
  // `on_answer`, if set, sees the first whole answer sent (the audit trail's result); a
  // streamed answer through writer() is not seen.
  explicit Reply(http::ResponseWriter w,
                 std::function<void(const http::Response&)> on_answer = nullptr)
      : s_(std::make_shared<Shared>(std::move(w), std::move(on_answer))) {}

  void Json(int status, const nlohmann::json& body) const { Send(JsonResponse(status, body)); }
  void Ok() const { Json(200, {{"ok", true}}); }
  void Error(const Status& st, const nlohmann::json& extra = nullptr) const {
    Send(ErrorResponse(st, extra));
  }
  // Ok() or Error(st): the common ending of a mutation.
  void Done(const Status& st) const { st.ok() ? Ok() : Error(st); }
  void Send(http::Response r) const {
    if (s_->on_answer) {
      auto seen = std::move(s_->on_answer);
      s_->on_answer = nullptr;
      seen(r);
    }
    s_->w.Send(std::move(r));
  }

  // For streamed answers (logs -f); shared by every copy of this Reply.
  http::ResponseWriter& writer() const { return s_->w; }

  // A handle on this answer that does not keep it alive: the router keeps one per open stream
  // to end it when the token it was opened with is revoked.
  class Weak {
   public:
    explicit Weak(std::weak_ptr<Shared> s) : s_(std::move(s)) {}
    // The answer is still a stream under way.
    bool streaming() const;
    // Ends the stream (the client sees its end); nothing if it is gone or not a stream.
    void EndStream() const;

   private:
    std::weak_ptr<Shared> s_;
  };
  Weak weak() const { return Weak(s_); }

 private:
  struct Shared {
    Shared(http::ResponseWriter writer, std::function<void(const http::Response&)> f)
        : w(std::move(writer)), on_answer(std::move(f)) {}
    http::ResponseWriter w;
    std::function<void(const http::Response&)> on_answer;
  };
  std::shared_ptr<Shared> s_;
};

inline bool Reply::Weak::streaming() const {
  std::shared_ptr<Shared> s = s_.lock();
  return s && s->w.streaming();
}

inline void Reply::Weak::EndStream() const {
  if (std::shared_ptr<Shared> s = s_.lock(); s && s->w.streaming()) s->w.End();
}

}  // namespace slipway::api
