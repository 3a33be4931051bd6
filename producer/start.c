/*
 * start.c - the opening of a swarm-producer command (start.h).
 */
#include "start.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int producer_start(producer_start_t *ps, const swarm_cli_t *cli,
                   const producer_default_t *defaults, int argc, char **argv) {
        swarm_err_t err;
        int argi = 0, rc;

        memset(ps, 0, sizeof(*ps));
        ps->lg = (swarm_log_t){SWARM_LOG_INFO, "swarm-producer", NULL};
        swarm_err_clear(&err);
        if (swarm_conf_new(&ps->conf, &err)) {
                fprintf(stderr, "%s: %s\n", cli->prog, err.msg);
                return 1;
        }
        for (; defaults && defaults->key; defaults++)
                if (swarm_conf_add(ps->conf, SWARM_CONF_DEFAULT, defaults->key,
                                   defaults->value, "command default", &err)) {
                        fprintf(stderr, "%s: %s\n", cli->prog, err.msg);
                        return 1;
                }
        /* the start-up every program shares; the command's defaults above
         * are why the conf is made here first */
        if ((rc = swarm_cli_main(cli, argc, argv, &ps->lg, NULL, &ps->conf,
                                 &argi)) >= 0)
                return rc;
        if (argi < argc) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "unexpected argument \"%s\"",
                              argv[argi]);
                return swarm_cli_error(cli, &err);
        }
        return -1;
}

void producer_catch_stop(void (*fn)(int)) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fn;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}
