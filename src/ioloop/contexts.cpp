// ioloop contexts (Dovecot's io_loop_context_*). A context is reached from an io, timeout or
// signal watcher only through a record: the callback the loop calls is record_call, its
// context the record, its release record_release. So the loop's usual paths (one event, one
// timeout) neither grow nor test anything for contexts; only a loop that has had a context
// wraps its callbacks, and only those pay for the activation around each call.
#include "core-internal.hpp"

#include <utility>
#include <vector>

using namespace ioloop_detail;

struct ioloop_context {
	struct Callbacks {
		io_callback_t *activate;
		io_callback_t *deactivate;
		void *context;
		bool activated; // a pair added while active is not deactivated before its first activate
		bool removed;   // removed inside a callback: dropped when the context deactivates
	};
	ioloop *loop;
	unsigned refcount = 1;
	std::vector<Callbacks> callbacks;
};

namespace {

struct Record {
	// First, as a timeout finds it there (loop-core.hpp: timeout::owns_context).
	release_fn *release_self;
	ioloop *loop;
	ioloop_context *ctx; // null: a callback without a context, in a loop that uses contexts
	union {
		io_callback_t *callback;
		signal_callback_t *signal_callback;
	};
	void *context;
	release_fn *release;
};

void unref(ioloop_context *ctx)
{
	if (--ctx->refcount == 0)
		delete ctx;
}

void compact(ioloop_context &ctx)
{
	std::erase_if(ctx.callbacks, [](const ioloop_context::Callbacks &c) { return c.removed; });
}

IOLOOP_CALLS_TYPED_CALLBACKS void deactivate(ioloop_context *ctx)
{
	ioloop &loop = *ctx->loop;
	if (loop.cur_ctx != ctx)
		return;
	// By index: a callback may add pairs (the vector may move).
	for (std::size_t i = 0; i < ctx->callbacks.size(); i++) {
		auto &c = ctx->callbacks[i];
		if (!c.activated)
			continue;
		c.activated = false;
		if (!c.removed && c.deactivate != nullptr)
			c.deactivate(c.context); // c is not used after: the call may move the vector
	}
	loop.cur_ctx = nullptr;
	compact(*ctx);
	unref(ctx); // the active context's own reference
}

IOLOOP_CALLS_TYPED_CALLBACKS void activate(ioloop_context *ctx)
{
	ioloop &loop = *ctx->loop;
	// A deactivate callback may itself activate a context: try twice, then go on regardless.
	for (int tries = 0; tries < 2 && loop.cur_ctx != nullptr && loop.cur_ctx != ctx; tries++)
		deactivate(loop.cur_ctx);
	if (loop.cur_ctx == ctx)
		return;
	if (loop.cur_ctx != nullptr)
		deactivate(loop.cur_ctx);
	loop.cur_ctx = ctx;
	ctx->refcount++;
	for (std::size_t i = 0; i < ctx->callbacks.size(); i++) {
		auto &c = ctx->callbacks[i];
		if (c.removed || c.activated)
			continue;
		c.activated = true;
		if (c.activate != nullptr)
			c.activate(c.context); // c is not used after: the call may move the vector
	}
}

void enter(ioloop &loop, ioloop_context *ctx)
{
	if (ctx != nullptr)
		activate(ctx);
	else if (loop.cur_ctx != nullptr)
		deactivate(loop.cur_ctx);
}

// The record may be freed inside the callback (the callback moved its own io or timeout):
// nothing of it is read after the call.
IOLOOP_CALLS_TYPED_CALLBACKS void record_call(void *p)
{
	auto *r = static_cast<Record *>(p);
	ioloop &loop = *r->loop;
	enter(loop, r->ctx);
	r->callback(r->context);
	if (loop.cur_ctx != nullptr)
		deactivate(loop.cur_ctx);
}

IOLOOP_CALLS_TYPED_CALLBACKS void record_call_signal(int signo, void *p)
{
	auto *r = static_cast<Record *>(p);
	ioloop &loop = *r->loop;
	enter(loop, r->ctx);
	r->signal_callback(signo, r->context);
	if (loop.cur_ctx != nullptr)
		deactivate(loop.cur_ctx);
}

void record_free(Record *r, bool release_user_context)
{
	if (release_user_context && r->release != nullptr)
		r->release(r->context);
	if (r->ctx != nullptr)
		unref(r->ctx);
	delete r;
}

void record_release(void *p)
{
	record_free(static_cast<Record *>(p), true);
}

Record *new_record(ioloop &loop, void *context, release_fn *release)
{
	auto *r = new Record{record_release, &loop, loop.cur_ctx, {nullptr}, context, release};
	if (r->ctx != nullptr)
		r->ctx->refcount++;
	return r;
}

bool is_internal(const ioloop &loop, const io *i)
{
	return i == loop.wakeup_io || i == loop.signal_io;
}

// Wraps a callback added before the loop's first context (it has none), so that a context it
// leaves active is deactivated as it returns. Each record is allocated before anything changes.
void wrap_plain(ioloop &loop, io_callback_t *&callback, void *&context, release_fn *&release)
{
	Record *r = new_record(loop, context, release);
	r->callback = callback;
	callback = record_call;
	context = r;
	release = record_release;
}

// The loop's first context: every callback it has becomes a wrapped one, so that each returns
// with no context active. One exception: the plain callback running now (usually the one
// creating this context) returns unwrapped; the rest of this iteration's posted phase then
// deactivates what it left active.
void start_using_contexts(ioloop &loop)
{
	for (io_file *f : loop.files) {
		if (f == nullptr)
			continue;
		for (io *i : {f->reader, f->writer})
			if (i != nullptr && !is_internal(loop, i) && i->callback != record_call)
				wrap_plain(loop, i->callback, i->context, i->release);
	}
	for (io *w : loop.notify_watches)
		if (w->callback != record_call)
			wrap_plain(loop, w->callback, w->context, w->release);
	loop.timeouts.for_each([&](TimeoutHeap::Entry *e) {
		timeout *t = timeout_from_entry(e);
		if (t->callback != record_call) {
			release_fn *release = t->release();
			wrap_plain(loop, t->callback, t->context, release);
			t->owns_context = true; // the record, which begins with its release
		}
	});
	for (io_signal *w : loop.signal_watchers) {
		if (w == nullptr || w->callback == record_call_signal)
			continue;
		Record *r = new_record(loop, w->context, w->release);
		r->signal_callback = w->callback;
		w->callback = record_call_signal;
		w->context = r;
		w->release = record_release;
	}
	loop.uses_contexts = true;
	if (loop.in_iteration)
		loop.have_posted.store(true, std::memory_order_relaxed);
}

} // namespace

namespace ioloop_detail {

void context_wrap(ioloop &loop, io_callback_t *&callback, void *&context, release_fn *&release)
{
	wrap_plain(loop, callback, context, release);
}

void context_wrap_signal(ioloop &loop, signal_callback_t *&callback, void *&context,
			 release_fn *&release)
{
	Record *r = new_record(loop, context, release);
	r->signal_callback = callback;
	callback = record_call_signal;
	context = r;
	release = record_release;
}

void context_discard(void *record)
{
	record_free(static_cast<Record *>(record), false);
}

void *context_record(io_callback_t *&callback, void *&context, release_fn *&release)
{
	if (callback != record_call)
		return nullptr;
	auto *r = static_cast<Record *>(context);
	callback = r->callback;
	context = r->context;
	release = r->release;
	return r;
}

void context_end(ioloop &loop)
{
	if (loop.cur_ctx != nullptr)
		deactivate(loop.cur_ctx);
}

} // namespace ioloop_detail

extern "C" {

struct ioloop_context *io_loop_context_new(struct ioloop *loop)
{
	return with_errno<ioloop_context *>(nullptr, [&] {
		if (loop == nullptr)
			fail(EINVAL, "io_loop_context_new: no loop");
		auto *ctx = new ioloop_context{loop, 1, {}};
		if (!loop->uses_contexts) {
			try {
				start_using_contexts(*loop);
			} catch (...) {
				delete ctx;
				throw;
			}
		}
		return ctx;
	});
}

void io_loop_context_ref(struct ioloop_context *ctx)
{
	if (ctx != nullptr)
		ctx->refcount++;
}

void io_loop_context_unref(struct ioloop_context **ctx)
{
	if (ctx != nullptr && *ctx != nullptr)
		unref(std::exchange(*ctx, nullptr));
}

void io_loop_context_add_callbacks(struct ioloop_context *ctx, io_callback_t *activate,
				   io_callback_t *deactivate, void *context)
{
	if (ctx == nullptr)
		return;
	with_errno<int>(-1, [&] {
		ctx->callbacks.push_back({activate, deactivate, context, false, false});
		return 0;
	});
}

void io_loop_context_remove_callbacks(struct ioloop_context *ctx, io_callback_t *activate,
				      io_callback_t *deactivate, void *context)
{
	if (ctx == nullptr)
		return;
	for (auto &c : ctx->callbacks) {
		if (!c.removed && c.activate == activate && c.deactivate == deactivate &&
		    c.context == context) {
			c.removed = true; // the vector may be being walked: compacted on deactivation
			if (ctx->loop->cur_ctx != ctx)
				compact(*ctx);
			return;
		}
	}
}

struct ioloop_context *io_loop_get_current_context(struct ioloop *loop)
{
	return loop != nullptr ? loop->cur_ctx : nullptr;
}

void io_loop_context_activate(struct ioloop_context *ctx)
{
	if (ctx != nullptr)
		activate(ctx);
}

void io_loop_context_deactivate(struct ioloop_context *ctx)
{
	if (ctx != nullptr)
		deactivate(ctx);
}

void io_loop_context_switch(struct ioloop_context *ctx)
{
	if (ctx != nullptr)
		activate(ctx);
}

} // extern "C"
