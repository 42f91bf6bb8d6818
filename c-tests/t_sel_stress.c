/*
 * Many selects at once: 4 producers (2 Gs, 2 threads) send through selects of send
 * cases over 3 channels (cap 0, 1, 4), 4 consumers (2 Gs, 2 threads) receive through
 * selects of receive cases over all 3, some selects with timeout 0 or a short
 * timeout (retried on RT_EAGAIN / RT_ETIMEDOUT), some plain sends/receives mixed in.
 * Every element arrives exactly once; after the producers are done and the channels
 * closed, each consumer sees RT_ECLOSED on each channel; then no waiter is left
 * (every rt_chan_free succeeds). At 1 P and at 2 Ps.
 */
#include "test_chan.h"

#define NCH 3
#define NP 4
#define NC 4

static rt_chan *ch[NCH];
static int per_producer;
static atomic_uchar *seen;
static atomic_int dup_or_bad, errors;
static atomic_long total;
static rt_wg prod_done, cons_done;

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void producer(int id)
{
    uint32_t s = 0x9E3779B9u * (uint32_t)(id + 1);
    for (int i = 0; i < per_producer;) {
        uint64_t v = ((uint64_t)id << 32) | (uint32_t)i;
        uint32_t r = rnd(&s);
        int rc;
        if (r % 8 == 0) {
            rc = rt_chan_send(ch[r % NCH], &v);
            if (rc != RT_OK) {
                atomic_fetch_add(&errors, 1);
                break;
            }
            i++;
            continue;
        }
        int a = (int)(r % NCH), b = (int)((r / 7) % NCH);
        uint64_t va = v, vb = v;
        rt_select_case cs[2] = { { ch[a], RT_SEND, &va, 7 }, { ch[b], RT_SEND, &vb, 7 } };
        int64_t to = (r % 5 == 0) ? 0 : (r % 5 == 1) ? 100000 : -1;
        rc = rt_select(cs, 2, to);
        if (rc == RT_EAGAIN || rc == RT_ETIMEDOUT)
            continue;
        if (rc < 0 || rc > 1 || cs[rc].result != RT_OK) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        i++;
    }
    rt_wg_done(&prod_done);
}

static void consumer(int id)
{
    uint32_t s = 0x85EBCA6Bu * (uint32_t)(id + 1);
    rt_chan *mine[NCH];
    for (int i = 0; i < NCH; i++)
        mine[i] = ch[i];
    int open = NCH;
    long got = 0;
    while (open > 0) {
        uint64_t v[NCH] = { 0 };
        rt_select_case cs[NCH];
        for (int i = 0; i < NCH; i++)
            cs[i] = (rt_select_case){ mine[i], RT_RECV, &v[i], 7 };
        uint32_t r = rnd(&s);
        int64_t to = (r % 5 == 0) ? 0 : (r % 5 == 1) ? 100000 : -1;
        int rc = rt_select(cs, NCH, to);
        if (rc == RT_EAGAIN || rc == RT_ETIMEDOUT)
            continue;
        if (rc < 0 || rc >= NCH) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        if (cs[rc].result == RT_ECLOSED) {
            if (v[rc] != 0)
                atomic_fetch_add(&dup_or_bad, 1);
            mine[rc] = NULL; /* a NULL case never proceeds */
            open--;
            continue;
        }
        uint32_t p = (uint32_t)(v[rc] >> 32), q = (uint32_t)v[rc];
        if (cs[rc].result != RT_OK || p >= NP || (int)q >= per_producer ||
            atomic_fetch_add(&seen[p * (uint32_t)per_producer + q], 1) != 0)
            atomic_fetch_add(&dup_or_bad, 1);
        got++;
    }
    atomic_fetch_add(&total, got);
    rt_wg_done(&cons_done);
}

static void producer_g(void *a) { producer((int)(intptr_t)a); }
static void consumer_g(void *a) { consumer((int)(intptr_t)a); }
static void *producer_t(void *a) { producer((int)(intptr_t)a); return NULL; }
static void *consumer_t(void *a) { consumer((int)(intptr_t)a); return NULL; }

static void body(void *arg)
{
    (void)arg;
    per_producer = tc_scale(20000, 200);
    seen = calloc((size_t)NP * (size_t)per_producer, 1);
    static const size_t caps[NCH] = { 0, 1, 4 };
    for (int i = 0; i < NCH; i++)
        CHECK_RC(rt_chan_make(8, caps[i], &ch[i]), RT_OK);
    rt_wg_add(&prod_done, NP);
    rt_wg_add(&cons_done, NC);
    pthread_t th[NP + NC];
    int nth = 0;
    for (int i = 0; i < NC; i++) {
        if (i % 2)
            th[nth++] = tc_thread(consumer_t, (void *)(intptr_t)i);
        else
            tc_go(consumer_g, (void *)(intptr_t)i);
    }
    for (int i = 0; i < NP; i++) {
        if (i % 2)
            th[nth++] = tc_thread(producer_t, (void *)(intptr_t)i);
        else
            tc_go(producer_g, (void *)(intptr_t)i);
    }
    rt_wg_wait(&prod_done);
    for (int i = 0; i < NCH; i++)
        CHECK_RC(rt_chan_close(ch[i]), RT_OK);
    rt_wg_wait(&cons_done);
    for (int i = 0; i < nth; i++)
        tc_join(th[i]);
    CHECK_EQ(atomic_load(&errors), 0);
    CHECK_EQ(atomic_load(&dup_or_bad), 0);
    CHECK_EQ(atomic_load(&total), (long)NP * per_producer);
    long missing = 0;
    for (long i = 0; i < (long)NP * per_producer; i++)
        missing += atomic_load(&seen[i]) == 0;
    CHECK_EQ(missing, 0);
    for (int i = 0; i < NCH; i++)
        CHECK_RC(rt_chan_free(ch[i]), RT_OK);
    free(seen);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
