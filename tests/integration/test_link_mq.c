/* SPDX-License-Identifier: MIT */
/*
 * test_link_mq.c: --link between a guest with 4 queue pairs and one with
 * 1.  What a sends on its queue pairs 1-3, which b does not have, is
 * spread over b's one receiving queue, never dropped for want of a queue,
 * each flow in order; and b's traffic reaches a on queue pair 0.  The
 * same again when b has 2 queue pairs: pair 1 keeps its index, 2 and 3
 * spread by flow over both.  Then all of it again with a and b on a
 * learning bridge instead of linked (the bridge spreads the same way).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_util.h"

#define NQ 4
#define PER_Q 10u

static struct tdaemon td;

struct mq_guest {
	struct vu_front *f;
	struct vu_drv *d[NQ];
	uint32_t n;
};

static const uint64_t FEATURES = BIT_ULL(VIRTIO_F_VERSION_1) |
	BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES) |
	BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) | BIT_ULL(VIRTIO_NET_F_MQ);

static void mq_up(struct mq_guest *g, const char *sock, uint32_t n)
{
	struct vu_guestmem_opts mo = {.size = 16u << 20, .nregions = 1,
				      .backing = VU_GUESTMEM_MEMFD};

	g->n = n;
	assert_int_equal(vu_front_connect(&g->f, sock, IO_MS, IO_MS), 0);
	assert_int_equal(vu_front_negotiate(g->f, FEATURES,
					    VU_FRONT_PROTOCOL_DEFAULT), 0);
	assert_int_equal(vu_front_mem_init(g->f, &mo), 0);
	assert_int_equal(vu_front_set_mem_table(g->f), 0);
	assert_int_equal(vu_front_setup_queues(g->f, n, 256), 0);
	for (uint32_t q = 0; q < n; q++)
		assert_int_equal(vu_drv_create(&g->d[q], g->f,
				 &(struct vu_drv_opts){.pair = q}), 0);
}

static void mq_down(struct mq_guest *g)
{
	for (uint32_t q = 0; q < g->n; q++)
		vu_drv_destroy(g->d[q]);
	vu_front_close(g->f);
	*g = (struct mq_guest){0};
	msleep(20);
}

static void send_on(struct vu_drv *d, const uint8_t *f, uint32_t len)
{
	uint8_t *slot;

	for (int i = 0; i < IO_MS && vu_drv_tx_reserve(d, &slot, 1) == 0; i++)
		msleep(1);
	memcpy(slot, f, len);
	memset(vu_drv_tx_hdr(d, slot), 0, sizeof(struct virtio_net_hdr));
	assert_int_equal(vu_drv_tx_commit(d, &len, 1), 1);
}

/* Frame k of flow q: an IPv4/UDP frame whose source port is the flow. */
static void frame(uint8_t *f, uint32_t q, uint32_t k)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, (uint8_t[]){0x52, 0x54, 0, 0, 0x43, 1}, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 9] = 17;
	f[34] = (uint8_t)((1000 + q) >> 8);
	f[35] = (uint8_t)(1000 + q);
	f[37] = 9;
	f[50] = (uint8_t)q;
	f[51] = (uint8_t)k;
}

/* Receive on every pair of g until n frames (or IO_MS); per flow the
 * sequence numbers must come in order.  Returns the frames per pair. */
static uint32_t collect(struct mq_guest *g, uint32_t n, uint32_t *per_pair)
{
	uint32_t total = 0, next[NQ] = {0};

	for (int ms = 0; total < n && ms < IO_MS; ms++) {
		bool any = false;
		for (uint32_t q = 0; q < g->n; q++) {
			nrx = 0;
			vu_drv_rx_poll(g->d[q], MAX_RX, on_rx, NULL);
			for (unsigned i = 0; i < nrx; i++) {
				uint8_t flow = rxf[i].data[50];
				assert_true(flow < NQ);
				assert_int_equal(rxf[i].data[51], next[flow]);
				next[flow]++;
			}
			per_pair[q] += nrx;
			total += nrx;
			any |= nrx > 0;
		}
		if (!any)
			msleep(1);
	}
	return total;
}

static void run(uint32_t b_pairs)
{
	struct mq_guest a, b;
	uint8_t f[64];
	uint32_t per[NQ] = {0};

	mq_up(&a, td.sock[0], NQ);
	mq_up(&b, td.sock[1], b_pairs);
	msleep(50);
	uint64_t down = 0;
	for (uint32_t q = 0; q < NQ; q++)
		down += tdaemon_stat(&td, "a", 2 * (int)q + 1, "drop_dst_down");
	for (uint32_t k = 0; k < PER_Q; k++)
		for (uint32_t q = 0; q < NQ; q++) {
			frame(f, q, k);
			send_on(a.d[q], f, 60);
		}
	assert_int_equal(collect(&b, NQ * PER_Q, per), NQ * PER_Q);
	if (b_pairs == 2)   /* pair 1 kept its index; 0..3 reach both */
		assert_true(per[0] >= PER_Q && per[1] >= PER_Q);
	uint64_t down2 = 0;
	for (uint32_t q = 0; q < NQ; q++)
		down2 += tdaemon_stat(&td, "a", 2 * (int)q + 1, "drop_dst_down");
	assert_int_equal(down2, down);
	/* and back: b's pair 0 to a's pair 0 */
	memset(per, 0, sizeof(per));
	frame(f, 0, 0);
	send_on(b.d[0], f, 60);
	assert_int_equal(collect(&a, 1, per), 1);
	assert_int_equal(per[0], 1);
	mq_down(&a);
	mq_down(&b);
}

static void test_four_pairs_to_one(void **state)
{
	(void)state;
	run(1);
}

static void test_four_pairs_to_two(void **state)
{
	(void)state;
	run(2);
}

static int group_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"a", "b", NULL},
			     (char *const[]){"--link", "a=b", NULL});
}

/* Ports a and b on bridge br0 (tdaemon_start names the ports itself:
 * the members are given as port names with the bridge option). */
static int bridge_setup(void **state)
{
	(void)state;
	return tdaemon_start(&td, (const char *const[]){"a", "b", NULL},
			     (char *const[]){"--bridge", "br0", NULL});
}

static int group_teardown(void **state)
{
	(void)state;
	return tdaemon_stop(&td);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_pairs_to_one),
		cmocka_unit_test(test_four_pairs_to_two),
	};

	if (tdaemon_args(&td, argc, argv) < 0)
		return 2;
	int failed = cmocka_run_group_tests_name("link", tests, group_setup,
						 group_teardown);
	td.bridge = "br0";
	return failed + cmocka_run_group_tests_name("bridge", tests,
						    bridge_setup,
						    group_teardown);
}
