/*
 * rt_select chooses uniformly among ready cases: with 2 ready cases, over 10,000
 * selects each is chosen 40%..60% of the time; with 3 ready cases (plus a NULL
 * case, never chosen), each 25%..42%. Ready receives (buffered channels holding
 * elements), ready sends (buffered channels with room), and a mix; the chosen
 * case's operation happened (len changes by one on that channel only). From a G and
 * from a plain thread.
 */
#include "test_chan.h"

#define N 10000

static void check_share(const char *what, long got, long total, int lo_pct, int hi_pct)
{
    if (!CHECK(got * 100 >= total * lo_pct && got * 100 <= total * hi_pct))
        fprintf(stderr, "  %s: chosen %ld of %ld times (want %d%%..%d%%)\n", what, got, total,
                lo_pct, hi_pct);
}

static void body(void *arg)
{
    (void)arg;
    rt_chan *a, *b, *c;
    CHECK_RC(rt_chan_make(0, N, &a), RT_OK);
    CHECK_RC(rt_chan_make(0, N, &b), RT_OK);
    CHECK_RC(rt_chan_make(0, N, &c), RT_OK);

    /* two ready receives */
    for (int i = 0; i < N; i++) {
        CHECK_RC(rt_chan_trysend(a, NULL), RT_OK);
        CHECK_RC(rt_chan_trysend(b, NULL), RT_OK);
    }
    long cnt[4] = { 0 };
    int bad = 0;
    for (int i = 0; i < N; i++) {
        rt_select_case cs[2] = { { a, RT_RECV, NULL, 99 }, { b, RT_RECV, NULL, 99 } };
        int r = rt_select(cs, 2, 0);
        if (r < 0 || r > 1 || cs[r].result != RT_OK) {
            bad++;
            continue;
        }
        cnt[r]++;
    }
    CHECK_EQ(bad, 0);
    check_share("recv case 0", cnt[0], N, 40, 60);
    check_share("recv case 1", cnt[1], N, 40, 60);
    CHECK_EQ(rt_chan_len(a), N - cnt[0]);
    CHECK_EQ(rt_chan_len(b), N - cnt[1]);
    while (rt_chan_tryrecv(a, NULL) == RT_OK)
        ;
    while (rt_chan_tryrecv(b, NULL) == RT_OK)
        ;

    /* two ready sends */
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < N; i++) {
        rt_select_case cs[2] = { { a, RT_SEND, NULL, 99 }, { b, RT_SEND, NULL, 99 } };
        int r = rt_select(cs, 2, -1);
        if (r < 0 || r > 1 || cs[r].result != RT_OK) {
            bad++;
            continue;
        }
        cnt[r]++;
    }
    CHECK_EQ(bad, 0);
    check_share("send case 0", cnt[0], N, 40, 60);
    check_share("send case 1", cnt[1], N, 40, 60);
    CHECK_EQ(rt_chan_len(a), cnt[0]);
    CHECK_EQ(rt_chan_len(b), cnt[1]);

    /* three ready (send on c, receive on a and b) and a NULL case */
    memset(cnt, 0, sizeof cnt);
    long total = 0;
    while (rt_chan_len(a) > 0 && rt_chan_len(b) > 0 && total < N) {
        rt_select_case cs[4] = { { a, RT_RECV, NULL, 99 },
                                 { NULL, RT_RECV, NULL, 99 },
                                 { c, RT_SEND, NULL, 99 },
                                 { b, RT_RECV, NULL, 99 } };
        int r = rt_select(cs, 4, 0);
        if (r < 0 || r > 3 || r == 1 || cs[r].result != RT_OK) {
            bad++;
            break;
        }
        cnt[r]++;
        total++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(cnt[1], 0);
    CHECK(total >= N / 2);
    check_share("3-way case 0", cnt[0], total, 25, 42);
    check_share("3-way case 2", cnt[2], total, 25, 42);
    check_share("3-way case 3", cnt[3], total, 25, 42);
    CHECK_EQ(rt_chan_len(c), cnt[2]);

    CHECK_RC(rt_chan_free(a), RT_OK);
    CHECK_RC(rt_chan_free(b), RT_OK);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

int main(void)
{
    tc_init(2);
    body(NULL);
    CHECK_RC(rt_main(body, NULL), RT_OK);
    tc_fini();
    return test_summary();
}
