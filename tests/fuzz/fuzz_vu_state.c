/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vu_state.c: the device-state record a restarted vhostd reads back
 * from its state memfd (control/backend/vu_state.c: vu_state_get, then
 * vu_state_check on what it returns).
 *
 * Input: a control byte, two record numbers, a byte offset and value to
 * corrupt, a length to cut the file to, then the body.  Up to two records
 * are written with vu_state_put() (so their CRCs hold and the checker sees
 * arbitrary bodies), then corrupted or cut as the control byte says: a
 * torn or truncated newest record must fall back to the other, a read that
 * succeeds on an uncorrupted file must return a number that was written,
 * and the checker must
 * accept or refuse with a reason, never crash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "control/backend/vu_state.h"
#include "control/wire/vu_proto.h"
#include "fuzz.h"

static int fd = -1;
static struct vu_state body, back;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("fuzz-vu-state", MFD_CLOEXEC);
	return fd < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t ctl = fz_u8(&f);
	uint64_t seq[2] = {fz_u64(&f), fz_u64(&f)};
	uint32_t at = fz_u32(&f);
	uint8_t junk = fz_u8(&f);
	uint32_t cut = fz_u32(&f);
	char why[256] = "";
	uint64_t got = 0;

	if (fd < 0 && LLVMFuzzerInitialize(NULL, NULL) < 0)
		abort();
	if (ftruncate(fd, 0) < 0)
		abort();
	fz_bytes(&f, &body, sizeof(body));
	for (int k = 0; k < 2; k++) {
		if (!(ctl & (1 << k)))
			continue;
		if (vu_state_put(fd, &body, seq[k]) < 0)
			abort();
		body.mtu ^= 1;       /* the two records differ */
	}
	off_t len = lseek(fd, 0, SEEK_END);
	if ((ctl & 4) && len > 0 &&
	    pwrite(fd, &junk, 1, (off_t)(at % (uint64_t)len)) != 1)
		abort();
	if ((ctl & 8) && ftruncate(fd, (off_t)(cut % ((uint64_t)len + 1))) < 0)
		abort();

	int r = vu_state_get(fd, &back, &got, why, sizeof(why));
	if (r == 0) {
		/* Uncorrupted, only a number that was written comes back (a
		 * header's number is outside the CRC). */
		if (!(ctl & 4) && !((ctl & 1) && got == seq[0]) &&
		    !((ctl & 2) && got == seq[1]))
			abort();
		r = vu_state_check(&back, 2 * VU_MAX_QUEUE_PAIRS, why,
				   sizeof(why));
		if (r != 0 && (r != -EINVAL || !why[0]))
			abort();
	} else if (r != -ENODATA && r != -EPROTO) {
		abort();
	} else if (!why[0]) {
		abort();
	}
	/* Nothing written, nothing read. */
	if (!(ctl & 3) && r != -ENODATA)
		abort();
	return 0;
}
