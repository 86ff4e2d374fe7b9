/* SPDX-License-Identifier: MIT */
#include "place.h"

/* Least-loaded among workers on node (node < 0: among all); n if none. */
static uint32_t least_loaded(const struct place_worker *w, uint32_t n,
			     int node)
{
	uint32_t best = n;

	for (uint32_t i = 0; i < n; i++)
		if ((node < 0 || w[i].node == node) &&
		    (best == n || w[i].load < w[best].load))
			best = i;
	return best;
}

uint32_t numa_place_pick(const struct place_worker *w, uint32_t n, int node,
			 bool *remote)
{
	uint32_t i = node >= 0 ? least_loaded(w, n, node) : n;
	bool far = i == n && node >= 0;

	if (i == n)
		i = least_loaded(w, n, -1);
	if (remote)
		*remote = far;
	return i;
}
