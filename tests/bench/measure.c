/*
 * measure: run a program and log what it and everything it reaped cost.
 *
 *	measure logfile tag prog [arg ...]
 *
 * Appends one line per run to logfile, in one write:
 *	tag self=R pid=P ppid=Q user_us=U sys_us=S maxrss_kb=M self_us=T
 * where R is our pid, P the program's, Q our parent's, U/S/M come from wait4(2)
 * (the program and every descendant it waited for) and T is our own CPU.
 * Used by make bench to take a front's cost apart from its backend's.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct rusage	 ru, self;
	char		 line[256];
	pid_t		 pid;
	int		 status, fd, n;

	if (argc < 4) {
		fprintf(stderr, "usage: measure logfile tag prog [arg ...]\n");
		return 100;
	}
	if ((pid = fork()) == -1)
		return 111;
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		_exit(111);
	}
	while (wait4(pid, &status, 0, &ru) == -1)
		;
	getrusage(RUSAGE_SELF, &self);
	n = snprintf(line, sizeof(line), "%s self=%ld pid=%ld ppid=%ld "
	    "user_us=%ld sys_us=%ld maxrss_kb=%ld self_us=%ld\n", argv[2],
	    (long)getpid(), (long)pid,
	    (long)getppid(), (long)(ru.ru_utime.tv_sec * 1000000 +
	    ru.ru_utime.tv_usec), (long)(ru.ru_stime.tv_sec * 1000000 +
	    ru.ru_stime.tv_usec), ru.ru_maxrss,
	    (long)((self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1000000 +
	    self.ru_utime.tv_usec + self.ru_stime.tv_usec));
	if ((fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644)) != -1) {
		(void)write(fd, line, n);
		close(fd);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 111;
}
