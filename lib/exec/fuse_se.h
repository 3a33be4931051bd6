/*
 * fuse_se.h - the squeeze-excitation channel scale folded into the 1x1
 * convolution that reads it (fuse_se.c).  Not a public header.
 */
#ifndef SWARM_EXEC_FUSE_SE_H
#define SWARM_EXEC_FUSE_SE_H

#include "model_internal.h"

/* Rewrite the plan of m (after exec_pack_weights, before slot planning):
 * Mul(x [N, C, H, W], s [N, C, 1, 1]) -> Conv 1x1 (stride 1, unpadded,
 * group 1, filters packed), where the product has that Conv as its one
 * consumer, becomes the Conv reading x and scaling it by s as it goes
 * (xnode_t.scale_in; the backend's conv_packed_scaled).  Nothing changes
 * on a backend without that entry, or for any other shape. */
void exec_fuse_se(swarm_model_t *m);

#endif
