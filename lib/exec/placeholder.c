int swarm_exec_placeholder_(void); int swarm_exec_placeholder_(void) { return 0; }
