/* SQLite in WAL mode on /tmp (Debian's static libsqlite3, glibc only): the write-ahead log's
 * index is the `-shm` file, which SQLite maps MAP_SHARED and which every connection reads
 * and writes through its mapping. Two connections, a transaction of 1000 inserts, a read
 * through the second connection, a checkpoint that empties the log. The database is argv[1]
 * if given (a volume's file: crates/uvm-cli/tests/volumes.rs), else /tmp/test.db. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK) {
        printf("%s: FAILED (%d: %s)\n", what, rc, db ? sqlite3_errmsg(db) : "no connection");
        exit(1);
    }
}

static int print_row(void *arg, int n, char **values, char **names) {
    (void)names;
    printf("%s:", (const char *)arg);
    for (int i = 0; i < n; i++)
        printf(" %s", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/test.db";
    sqlite3 *db, *reader;
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode=WAL;", print_row, "journal mode", 0), db, "journal_mode");
    check(sqlite3_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);", 0, 0, 0), db, "create");
    check(sqlite3_exec(db, "BEGIN;", 0, 0, 0), db, "begin");
    for (int i = 0; i < 1000; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO t(v) VALUES('row %d');", i);
        check(sqlite3_exec(db, sql, 0, 0, 0), db, "insert");
    }
    check(sqlite3_exec(db, "COMMIT;", 0, 0, 0), db, "commit");
    check(sqlite3_open(path, &reader), reader, "open a second connection");
    check(sqlite3_exec(reader, "SELECT count(*), max(k), min(v) FROM t;", print_row, "second connection", 0), reader,
          "select");
    check(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);", print_row, "checkpoint (busy, log, done)", 0), db,
          "checkpoint");
    check(sqlite3_exec(reader, "SELECT count(*) FROM t WHERE v LIKE 'row 9%';", print_row, "after it", 0), reader,
          "select again");
    check(sqlite3_close(reader), 0, "close the second connection");
    check(sqlite3_close(db), 0, "close");
    printf("all ok\n");
    return 0;
}
