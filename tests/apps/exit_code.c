/* Tests the exit status: exits with argv[1] (the kernel keeps the low 8 bits). */
#include <stdlib.h>

int main(int argc, char **argv) {
    return argc > 1 ? atoi(argv[1]) : 99;
}
