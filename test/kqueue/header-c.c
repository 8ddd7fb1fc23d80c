/* <sys/event.h> must work from C: EV_SET, struct kevent, kqueue(), kevent(). */
#include <sys/event.h>

#include <stddef.h>
#include <unistd.h>

int kqt_c_header_check(void);

int kqt_c_header_check(void)
{
	struct kevent ch, out;
	struct timespec zero = {0, 0};
	int kq = kqueue();
	int n;

	if (kq < 0)
		return 1;
	EV_SET(&ch, 7, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 42, NULL);
	n = kevent(kq, &ch, 1, &out, 1, &zero);
	close(kq);
	if (n != 1 || out.ident != 7 || out.filter != EVFILT_USER || out.data != 42)
		return 2;
	return 0;
}
