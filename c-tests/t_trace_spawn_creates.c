/*
 * The trace's spawn fast paths write most of a burst's Creates as one-byte
 * CreateNext records (the G with the next id, by the last Create's creator, of its
 * function) and each G's exit into the next as a ChainSwitch; the decoder rebuilds
 * the whole events. This checks the rebuilt Creates against what really happened,
 * in bursts broken every way the encoder must notice: a named G, another function, a
 * yield between two rt_go calls, three spawners on two Ps (their Gs exiting into
 * each other), rt_gomaxprocs going 2 -> 1 -> 2 meanwhile (Ps die and revive, Gs and
 * spawners migrate), and, in a second run, the trace stopped and restarted again and
 * again while the spawners go on. Every G made while a trace ran continuously shows
 * exactly one "create" in it, with its own creator; across restarts no G is created
 * twice and none is credited to another creator.
 */
#include "test_chan.h"

#define SPAWNERS 3

static int per; /* Gs each spawner makes */
static int64_t *ids[SPAWNERS];
static int64_t spawner_id[SPAWNERS];
static rt_wg wg;
static char paths[64][128];
static int npaths;

static void leaf(void *arg)
{
    (void)arg;
    rt_wg_done(&wg);
}

static void leaf2(void *arg)
{
    (void)arg;
    rt_wg_done(&wg);
}

static void spawner(void *arg)
{
    int s = (int)(intptr_t)arg;
    spawner_id[s] = rt_goid();
    rt_go_attr named = {.size = sizeof named, .name = "named"};
    for (int i = 0; i < per; i++) {
        int64_t id;
        if (i % 37 == 5)
            id = rt_go_ex(leaf, NULL, &named);
        else if (i % 53 == 7)
            id = rt_go(leaf2, NULL);
        else
            id = rt_go(leaf, NULL);
        if (!CHECK(id > 0))
            rt_wg_done(&wg);
        ids[s][i] = id;
        if (i % 101 == 50)
            rt_gosched();
    }
    rt_wg_done(&wg);
}

static void resizer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 6; i++) {
        CHECK(rt_gomaxprocs(i % 2 == 0 ? 1 : 2) > 0);
        for (int k = 0; k < 50; k++)
            rt_gosched();
    }
    CHECK(rt_gomaxprocs(2) > 0);
    rt_wg_done(&wg);
}

/* Counts each G's creates over the traces read; a create credited to another creator
 * than the one that made it fails. */
static int *seen;
static int *owner; /* the spawner + 1 of each G id, 0: not ours */
static int64_t seen_len;

static void read_trace(const char *path)
{
    char *t = test_slurp(path);
    if (!CHECK(t != NULL))
        return;
    static const char key[] = "\"name\":\"create G";
    for (char *p = strstr(t, key); p; p = strstr(p + 1, key)) {
        char *g = strstr(p, "\"args\":{\"g\":");
        if (!CHECK(g != NULL))
            break;
        long long gid = 0, by = -1;
        char *b = strstr(g, "\"by\":");
        if (!CHECK(b != NULL) || sscanf(g, "\"args\":{\"g\":%lld", &gid) != 1 ||
            sscanf(b, "\"by\":%lld", &by) != 1) {
            FAIL("unparsed create at %.80s", p);
            break;
        }
        if (gid <= 0 || gid >= seen_len)
            continue; /* not one of ours */
        int s = owner[gid];
        if (s == 0)
            continue;
        seen[gid]++;
        if (by != spawner_id[s - 1])
            FAIL("G%lld created by G%lld, credited to G%lld", gid,
                 (long long)spawner_id[s - 1], by);
    }
    free(t);
}

static void run(bool restarts)
{
    rt_wg_add(&wg, SPAWNERS * (per + 1) + 1);
    for (int s = 0; s < SPAWNERS; s++)
        tc_go(spawner, (void *)(intptr_t)s);
    tc_go(resizer, NULL);
    if (restarts) {
        /* Stop and start again while the spawners go on. */
        for (int k = 0; k < 12 && npaths < 64; k++) {
            for (int y = 0; y < 30; y++)
                rt_gosched();
            CHECK_RC(rt_trace_stop(), RT_OK);
            snprintf(paths[npaths], sizeof paths[0], "/tmp/mrt-spawn-creates-%d-%d.json",
                     (int)getpid(), npaths);
            CHECK_RC(rt_trace_start(paths[npaths]), RT_OK);
            npaths++;
        }
    }
    rt_wg_wait(&wg);
}

static void body(void *arg)
{
    bool restarts = arg != NULL;
    npaths = 0;
    snprintf(paths[npaths], sizeof paths[0], "/tmp/mrt-spawn-creates-%d-%d.json", (int)getpid(),
             npaths);
    CHECK_RC(rt_trace_start(paths[npaths]), RT_OK);
    npaths++;
    run(restarts);
    CHECK_RC(rt_trace_stop(), RT_OK);

    int64_t max = 0;
    for (int s = 0; s < SPAWNERS; s++)
        for (int i = 0; i < per; i++)
            if (ids[s][i] > max)
                max = ids[s][i];
    seen_len = max + 1;
    seen = calloc((size_t)seen_len, sizeof *seen);
    owner = calloc((size_t)seen_len, sizeof *owner);
    if (!CHECK(seen != NULL && owner != NULL))
        return;
    for (int s = 0; s < SPAWNERS; s++)
        for (int i = 0; i < per; i++)
            if (ids[s][i] > 0)
                owner[ids[s][i]] = s + 1;
    for (int k = 0; k < npaths; k++) {
        read_trace(paths[k]);
        unlink(paths[k]);
    }
    int missing = 0, twice = 0;
    for (int s = 0; s < SPAWNERS; s++) {
        for (int i = 0; i < per; i++) {
            int n = ids[s][i] > 0 ? seen[ids[s][i]] : 1;
            if (n > 1)
                twice++;
            if (n == 0)
                missing++;
        }
    }
    CHECK_EQ(twice, 0);
    if (!restarts)
        CHECK_EQ(missing, 0);
    free(seen);
    free(owner);
    seen = NULL;
    owner = NULL;
}

int main(void)
{
    per = tc_scale(3000, 300);
    for (int s = 0; s < SPAWNERS; s++) {
        ids[s] = calloc((size_t)per, sizeof *ids[s]);
        if (!ids[s])
            return 1;
    }
    tc_in_child(2, true, body, NULL);
    tc_in_child(2, true, body, (void *)1);
    for (int s = 0; s < SPAWNERS; s++)
        free(ids[s]);
    return test_summary();
}
