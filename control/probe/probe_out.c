/* SPDX-License-Identifier: MIT */
/* probe_out.c: features by name, the result table, and its JSON. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "probe.h"

static const char *const feature_names[64] = {
	[0] = "VIRTIO_NET_F_CSUM", [1] = "VIRTIO_NET_F_GUEST_CSUM",
	[2] = "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS", [3] = "VIRTIO_NET_F_MTU",
	[5] = "VIRTIO_NET_F_MAC", [6] = "VIRTIO_NET_F_GSO",
	[7] = "VIRTIO_NET_F_GUEST_TSO4", [8] = "VIRTIO_NET_F_GUEST_TSO6",
	[9] = "VIRTIO_NET_F_GUEST_ECN", [10] = "VIRTIO_NET_F_GUEST_UFO",
	[11] = "VIRTIO_NET_F_HOST_TSO4", [12] = "VIRTIO_NET_F_HOST_TSO6",
	[13] = "VIRTIO_NET_F_HOST_ECN", [14] = "VIRTIO_NET_F_HOST_UFO",
	[15] = "VIRTIO_NET_F_MRG_RXBUF", [16] = "VIRTIO_NET_F_STATUS",
	[17] = "VIRTIO_NET_F_CTRL_VQ", [18] = "VIRTIO_NET_F_CTRL_RX",
	[19] = "VIRTIO_NET_F_CTRL_VLAN", [20] = "VIRTIO_NET_F_CTRL_RX_EXTRA",
	[21] = "VIRTIO_NET_F_GUEST_ANNOUNCE", [22] = "VIRTIO_NET_F_MQ",
	[23] = "VIRTIO_NET_F_CTRL_MAC_ADDR", [24] = "VIRTIO_F_NOTIFY_ON_EMPTY",
	[26] = "VHOST_F_LOG_ALL", [27] = "VIRTIO_F_ANY_LAYOUT",
	[28] = "VIRTIO_RING_F_INDIRECT_DESC", [29] = "VIRTIO_RING_F_EVENT_IDX",
	[30] = "VHOST_USER_F_PROTOCOL_FEATURES", [32] = "VIRTIO_F_VERSION_1",
	[33] = "VIRTIO_F_ACCESS_PLATFORM", [34] = "VIRTIO_F_RING_PACKED",
	[35] = "VIRTIO_F_IN_ORDER", [36] = "VIRTIO_F_ORDER_PLATFORM",
	[37] = "VIRTIO_F_SR_IOV", [38] = "VIRTIO_F_NOTIFICATION_DATA",
	[39] = "VIRTIO_F_NOTIF_CONFIG_DATA", [40] = "VIRTIO_F_RING_RESET",
	[41] = "VIRTIO_F_ADMIN_VQ", [52] = "VIRTIO_NET_F_VQ_NOTF_COAL",
	[53] = "VIRTIO_NET_F_NOTF_COAL", [54] = "VIRTIO_NET_F_GUEST_USO4",
	[55] = "VIRTIO_NET_F_GUEST_USO6", [56] = "VIRTIO_NET_F_HOST_USO",
	[57] = "VIRTIO_NET_F_HASH_REPORT", [59] = "VIRTIO_NET_F_GUEST_HDRLEN",
	[60] = "VIRTIO_NET_F_RSS", [61] = "VIRTIO_NET_F_RSC_EXT",
	[62] = "VIRTIO_NET_F_STANDBY", [63] = "VIRTIO_NET_F_SPEED_DUPLEX",
};

static const char *const protocol_names[64] = {
	"MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ",
	"CROSS_ENDIAN", "CRYPTO_SESSION", "PAGEFAULT", "CONFIG",
	"BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD", "RESET_DEVICE",
	"INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS", "XEN_MMAP",
	"SHARED_OBJECT", "DEVICE_STATE",
};

static void print_bits(const char *what, uint64_t v,
		       const char *const names[64], const char *prefix)
{
	printf("%s 0x%llx:", what, (unsigned long long)v);
	for (int b = 0; b < 64; b++) {
		if (!(v & BIT_ULL(b)))
			continue;
		if (names[b])
			printf(" %s%s", prefix, names[b]);
		else
			printf(" bit%d", b);
	}
	printf("\n");
}

void probe_print_features(const struct probe *p)
{
	print_bits("features", p->features, feature_names, "");
	if (p->features & BIT_ULL(VHOST_USER_F_PROTOCOL_FEATURES))
		print_bits("protocol features", p->protocol, protocol_names,
			   "");
	if (p->queue_num)
		printf("queue pairs %llu\n", (unsigned long long)p->queue_num);
	if (p->mem_slots)
		printf("memory slots %llu\n", (unsigned long long)p->mem_slots);
}

void probe_print_table(const struct probe *p)
{
	const char *h[] = {"request", "check", "expected", "answered",
			   "verdict"};
	int w[4] = {7, 5, 8, 8};

	for (uint32_t i = 0; i < p->nres; i++) {
		const struct probe_result *r = &p->res[i];
		const char *c[4] = {r->request, r->check, r->expected,
				    r->answered};
		for (int k = 0; k < 4; k++)
			if ((int)strlen(c[k]) > w[k])
				w[k] = (int)strlen(c[k]);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", w[0], h[0], w[1], h[1], w[2],
	       h[2], w[3], h[3], h[4]);
	for (uint32_t i = 0; i < p->nres; i++) {
		const struct probe_result *r = &p->res[i];
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", w[0], r->request, w[1],
		       r->check, w[2], r->expected, w[3], r->answered,
		       probe_verdict_name(r->verdict));
	}
}

static json_object *bits_json(uint64_t v, const char *const names[64])
{
	json_object *a = json_object_new_array();
	char buf[16];

	for (int b = 0; a && b < 64; b++) {
		if (!(v & BIT_ULL(b)))
			continue;
		snprintf(buf, sizeof(buf), "bit%d", b);
		json_object_array_add(a, json_object_new_string(
					      names[b] ? names[b] : buf));
	}
	return a;
}

int probe_print_json(const struct probe *p)
{
	json_object *root = json_object_new_object();
	json_object *rows = json_object_new_array();

	if (!root || !rows) {
		json_object_put(root);
		json_object_put(rows);
		return -ENOMEM;
	}
	json_object_object_add(root, "socket",
			       json_object_new_string(p->o.path));
	json_object_object_add(root, "features",
			       json_object_new_uint64(p->features));
	json_object_object_add(root, "feature_names",
			       bits_json(p->features, feature_names));
	json_object_object_add(root, "protocol_features",
			       json_object_new_uint64(p->protocol));
	json_object_object_add(root, "protocol_feature_names",
			       bits_json(p->protocol, protocol_names));
	json_object_object_add(root, "queue_num",
			       json_object_new_uint64(p->queue_num));
	json_object_object_add(root, "mem_slots",
			       json_object_new_uint64(p->mem_slots));
	for (uint32_t i = 0; i < p->nres; i++) {
		const struct probe_result *r = &p->res[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "request",
				       json_object_new_string(r->request));
		json_object_object_add(o, "check",
				       json_object_new_string(r->check));
		json_object_object_add(o, "expected",
				       json_object_new_string(r->expected));
		json_object_object_add(o, "answered",
				       json_object_new_string(r->answered));
		json_object_object_add(o, "verdict", json_object_new_string(
					       probe_verdict_name(r->verdict)));
		json_object_array_add(rows, o);
	}
	json_object_object_add(root, "results", rows);
	printf("%s\n", json_object_to_json_string_ext(
		       root, JSON_C_TO_STRING_PRETTY |
		       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}
