#ifndef C_API_SCENARIOS_H
#define C_API_SCENARIOS_H
#include <signal.h>
#ifdef __cplusplus
extern "C" {
#endif
int c_scenario_dovecot_style(void);
int c_scenario_errors(void);
int c_scenario_signal(int signo);
const char *c_scenario_handler(void);
/* -1: the kqueue has no vnode filter (NOSUPPORT, EINVAL): nothing checked. */
int c_scenario_notify(const char *dir);
#ifdef __cplusplus
}
#endif
#endif
