/* fleet.c - see fleet.h. */
#include "fleet.h"

#include <string.h>

void fleet_init(fleet_t *f, int partitions, double capacity,
                double join_delay_s, int workers) {
        memset(f, 0, sizeof(*f));
        f->P = partitions > FLEET_MAX_P ? FLEET_MAX_P : partitions;
        f->capacity = capacity;
        f->join_delay_s = join_delay_s;
        fleet_resize(f, workers);
        /* initial workers are already in the group */
        for (int i = 0; i < f->started; i++)
                f->ready_at[i] = 0;
}

void fleet_resize(fleet_t *f, int n) {
        if (n > FLEET_MAX_W)
                n = FLEET_MAX_W;
        if (n < 0)
                n = 0;
        while (f->started < n)
                f->ready_at[f->started++] = f->t + f->join_delay_s;
        if (f->started > n)
                f->started = n;
}

int fleet_active(const fleet_t *f) {
        int n = 0;
        for (int i = 0; i < f->started; i++)
                n += f->ready_at[i] <= f->t;
        return n;
}

double fleet_lag(const fleet_t *f) {
        double l = 0;
        for (int i = 0; i < f->P; i++)
                l += f->high[i] - f->committed[i];
        return l;
}

void fleet_step(fleet_t *f, double dt, double arrivals) {
        int n = fleet_active(f);

        if (n > 0) {
                for (int w = 0; w < n && w < f->P; w++) {
                        int mine = 0;
                        double share;
                        for (int i = w; i < f->P; i += n)
                                mine += !f->frozen[i] &&
                                        f->high[i] - f->committed[i] > 1e-9;
                        if (!mine)
                                continue;
                        share = f->capacity * dt / mine;
                        for (int i = w; i < f->P; i += n) {
                                double lag = f->high[i] - f->committed[i];
                                if (f->frozen[i] || lag <= 1e-9)
                                        continue;
                                f->committed[i] += lag < share ? lag : share;
                        }
                }
        }
        /* Arrivals land after this step's consumption: they are answered
         * and committed in the next step, so a fleet that keeps up still
         * shows about one step of lag, as the worker's once-a-second
         * offset commit does on a real broker. */
        for (int i = 0; i < f->P; i++)
                f->high[i] += arrivals / f->P;
        f->worker_seconds += f->started * dt;
        f->t += dt;
}
