/* The README's example app: greets its arguments, shows an environment variable and a
 * packaged config file, writes a file to /tmp, and exits with a status of its choosing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *greeting = getenv("GREETING");
    printf("%s from inside a uvm micro-VM!\n", greeting ? greeting : "hello");
    for (int i = 1; i < argc; i++)
        printf("  argv[%d] = %s\n", i, argv[i]);

    FILE *conf = fopen("/etc/hello.conf", "r");
    char line[256];
    if (conf && fgets(line, sizeof line, conf))
        printf("  /etc/hello.conf says: %s", line);
    if (conf)
        fclose(conf);

    FILE *tmp = fopen("/tmp/note.txt", "w+");
    if (tmp) {
        fputs("written inside the VM\n", tmp);
        rewind(tmp);
        if (fgets(line, sizeof line, tmp))
            printf("  /tmp/note.txt holds: %s", line);
        fclose(tmp);
    }
    return argc > 1 && strcmp(argv[argc - 1], "fail") == 0 ? 1 : 0;
}
