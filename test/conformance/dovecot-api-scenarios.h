#ifndef DOVECOT_API_SCENARIOS_H
#define DOVECOT_API_SCENARIOS_H
#ifdef __cplusplus
extern "C" {
#endif
/* typed-callbacks.c */
int c_typed_callbacks(void);
/* port-daemon.c */
int port_daemon_run(void);
#ifdef __cplusplus
}
#endif
#endif
