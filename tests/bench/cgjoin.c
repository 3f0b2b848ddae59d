/*
 * cgjoin: move into a cgroup v2, then become a program.
 *
 *	cgjoin dir prog [arg ...]
 *
 * Writes 0 to dir/cgroup.procs (this process, and so everything it
 * execs and forks, is then accounted to that cgroup) and execs prog.
 * make bench starts each backend through it, so that the server's
 * process tree splits into the front and its backends in the same run
 * that the whole machine is measured in.  Linked statically: its own
 * cost, one exec without a dynamic linker, falls on the front's side.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	char	 path[PATH_MAX];
	int	 fd;

	if (argc < 3) {
		fprintf(stderr, "usage: cgjoin dir prog [arg ...]\n");
		return 100;
	}
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", argv[1]) >=
	    (int)sizeof(path))
		return 100;
	if ((fd = open(path, O_WRONLY)) == -1 || write(fd, "0\n", 2) != 2) {
		perror("cgjoin: fatal: unable to join the cgroup");
		return 111;
	}
	close(fd);
	execvp(argv[2], argv + 2);
	perror("cgjoin: fatal: unable to run the program");
	return 111;
}
