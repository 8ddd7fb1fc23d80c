// ios grouped per fd, and the pending list. Add and remove are O(1): files are indexed by fd.
#include "core-internal.hpp"
#include "handler.hpp"
#include "ioloop.hpp"

using namespace ioloop_detail;

namespace {

void bury_io(ioloop &loop, io *i)
{
	if (loop.in_iteration) { // a handler may still hold the file; the io must not be reused
		i->next_dead = loop.dead_ios;
		loop.dead_ios = i;
		return;
	}
	if (i->release != nullptr)
		i->release(i->context);
	delete i;
}

void bury_file(ioloop &loop, io_file *f)
{
	if (loop.in_iteration) {
		f->next_dead = loop.dead_files;
		loop.dead_files = f;
		return;
	}
	delete f;
}

void remove_io(io *i, bool closed)
{
	ioloop &loop = *i->loop;
	io_file *f = i->file;
	if (i->pending)
		unlink_pending(loop, i);
	if (f == nullptr) { // a file-change watch
		remove_notify(loop, i);
		i->removed = true;
		bury_io(loop, i);
		return;
	}
	unsigned old = f->conditions();
	(f->reader == i ? f->reader : f->writer) = nullptr;
	i->removed = true;
	if (f->reader == nullptr && f->writer == nullptr) {
		ioloop_handler::remove(loop, *f, closed);
		loop.files[static_cast<std::size_t>(f->fd)] = nullptr;
		loop.file_count--;
		bury_file(loop, f);
	} else if (!closed) {
		try {
			ioloop_handler::add(loop, *f, old); // narrowing interest cannot fail on a live fd
		} catch (const std::system_error &) {
		}
	}
	bury_io(loop, i);
}

} // namespace

namespace ioloop_detail {

void unlink_pending(ioloop &loop, io *i)
{
	if (i->pending_prev != nullptr)
		i->pending_prev->pending_next = i->pending_next;
	else
		loop.pending_head = i->pending_next;
	if (i->pending_next != nullptr)
		i->pending_next->pending_prev = i->pending_prev;
	else
		loop.pending_tail = i->pending_prev;
	i->pending_prev = i->pending_next = nullptr;
	i->pending = false;
}

void run_pending(ioloop &loop)
{
	// New pending ios join at the tail, so the ones due this iteration are all at the head.
	while (loop.running && loop.pending_head != nullptr &&
	       loop.pending_head->pending_since_wait < loop.wait_count)
		call_io(loop, loop.pending_head);
}

io *add_internal_io(ioloop &loop, int fd, io_callback_t *callback)
{
	return add_io(&loop, fd, IO_READ, callback, &loop, nullptr);
}

void free_dead(ioloop &loop)
{
	while (io *i = loop.dead_ios) {
		loop.dead_ios = i->next_dead;
		if (i->release != nullptr)
			i->release(i->context);
		delete i;
	}
	while (io_file *f = loop.dead_files) {
		loop.dead_files = f->next_dead;
		delete f;
	}
	while (io_signal *w = loop.dead_signals) {
		loop.dead_signals = w->next_dead;
		if (w->release != nullptr)
			w->release(w->context);
		delete w;
	}
	free_timeouts(loop);
}

void free_all_ios(ioloop &loop)
{
	for (io_file *f : loop.files) {
		if (f == nullptr)
			continue;
		for (io *i : {f->reader, f->writer}) {
			if (i != nullptr && i->release != nullptr)
				i->release(i->context);
			delete i;
		}
		ioloop_handler::remove(loop, *f, false);
		delete f;
	}
	loop.files.clear();
	loop.file_count = 0;
	loop.pending_head = loop.pending_tail = nullptr;
}

void readd_all_files(ioloop &loop)
{
	for (io_file *f : loop.files) {
		if (f == nullptr)
			continue;
		f->registered = 0;
		ioloop_handler::add(loop, *f, 0);
	}
}

io *add_io(ioloop *loop, int fd, unsigned conditions, io_callback_t *callback, void *context,
	   release_fn *release)
{
	if (loop == nullptr || callback == nullptr)
		fail(EINVAL, "io_add: no loop or no callback");
	if (fd < 0)
		fail(EBADF, "io_add: negative fd");
	if (conditions == 0 || (conditions & ~unsigned(IO_READ | IO_WRITE | IO_ERROR)) != 0 ||
	    (conditions & (IO_READ | IO_WRITE)) == (IO_READ | IO_WRITE))
		fail(EINVAL, "io_add: conditions must be IO_READ and/or IO_ERROR, or IO_WRITE");
	const bool writer = (conditions & IO_WRITE) != 0;
	if (writer)
		conditions = IO_WRITE; // a writer is called on errors anyway

	auto index = static_cast<std::size_t>(fd);
	if (index >= loop->files.size())
		loop->files.resize(std::max(index + 1, loop->files.size() * 2), nullptr);
	io_file *f = loop->files[index];
	if (f != nullptr && (writer ? f->writer : f->reader) != nullptr)
		fail(EEXIST, writer ? "io_add: fd already has a writer" : "io_add: fd already has a reader");

	void *record = nullptr; // contexts.cpp
	if (loop->uses_contexts) [[unlikely]] {
		context_wrap(*loop, callback, context, release);
		record = context;
	}
	bool new_file = f == nullptr;
	io *i = nullptr;
	try {
		if (new_file)
			f = new io_file{fd};
		i = new io{loop, f, conditions, callback, context, release, loop->wait_count};
	} catch (...) {
		if (new_file)
			delete f;
		if (record != nullptr)
			context_discard(record);
		throw;
	}
	unsigned old = f->conditions();
	(writer ? f->writer : f->reader) = i;
	try {
		ioloop_handler::add(*loop, *f, old);
	} catch (...) {
		(writer ? f->writer : f->reader) = nullptr;
		delete i;
		if (new_file)
			delete f;
		if (record != nullptr)
			context_discard(record);
		throw;
	}
	if (new_file) {
		loop->files[index] = f;
		loop->file_count++;
	}
	return i;
}

} // namespace ioloop_detail

namespace iol::detail {
::io *add_io(::ioloop *loop, int fd, unsigned conditions, io_callback_t *callback, void *context,
	     release_fn *release)
{
	return ioloop_detail::add_io(loop, fd, conditions, callback, context, release);
}
} // namespace iol::detail

extern "C" {

struct io *io_add_to(struct ioloop *loop, int fd, enum io_condition condition,
		     io_callback_t *callback, void *context)
{
	return with_errno<io *>(nullptr, [&] {
		return add_io(loop, fd, static_cast<unsigned>(condition), callback, context, nullptr);
	});
}

struct io *io_add(int fd, enum io_condition condition, io_callback_t *callback, void *context)
{
	return io_add_to(current_ioloop, fd, condition, callback, context);
}

void io_remove(struct io **io)
{
	if (io != nullptr && *io != nullptr)
		remove_io(std::exchange(*io, nullptr), false);
}

void io_remove_closed(struct io **io)
{
	if (io != nullptr && *io != nullptr)
		remove_io(std::exchange(*io, nullptr), true);
}

void io_set_pending(struct io *io)
{
	if (io == nullptr || io->pending)
		return;
	ioloop &loop = *io->loop;
	io->pending = true;
	io->pending_since_wait = loop.wait_count;
	io->pending_next = nullptr;
	io->pending_prev = loop.pending_tail;
	if (loop.pending_tail != nullptr)
		loop.pending_tail->pending_next = io;
	else
		loop.pending_head = io;
	loop.pending_tail = io;
}

} // extern "C"
