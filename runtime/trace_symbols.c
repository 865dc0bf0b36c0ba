/*
 * Function names for the trace: what dladdr knows (exported symbols),
 * else the object file's own symbol table (.symtab), which also lists a
 * program's static functions unless the file was stripped. Used only
 * while a trace file is written; reads the file with mmap and checks
 * every offset against its size, so a truncated or foreign file gives
 * no name rather than a crash.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/trace.h"

#ifndef WEFT_NO_TRACE

/* True if [off, off + len) lies within a file of size bytes. */
static bool within(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* The function symbol of the ELF64 image at map (size bytes) whose
 * range holds vaddr, as "name" or "name+0xoff". */
static bool symtab_lookup(const unsigned char *map, size_t size,
			  uint64_t vaddr, char *out, size_t n)
{
	if (size < sizeof(Elf64_Ehdr) || memcmp(map, ELFMAG, SELFMAG) ||
	    map[EI_CLASS] != ELFCLASS64)
		return false;
	Elf64_Ehdr eh;
	memcpy(&eh, map, sizeof(eh));
	if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !within(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr),
		    size))
		return false;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh, str;
		memcpy(&sh, map + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum ||
		    !within(sh.sh_offset, sh.sh_size, size))
			continue;
		memcpy(&str, map + eh.e_shoff + sh.sh_link * sizeof(str),
		       sizeof(str));
		if (!within(str.sh_offset, str.sh_size, size))
			continue;
		const char *names = (const char *)map + str.sh_offset;
		for (uint64_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
			Elf64_Sym sym;
			memcpy(&sym, map + sh.sh_offset + k * sizeof(sym),
			       sizeof(sym));
			if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || vaddr < sym.st_value ||
			    vaddr - sym.st_value >=
				    (sym.st_size ? sym.st_size : 1) ||
			    sym.st_name >= str.sh_size ||
			    !memchr(names + sym.st_name, '\0',
				    str.sh_size - sym.st_name))
				continue;
			uint64_t off = vaddr - sym.st_value;
			if (off)
				snprintf(out, n, "%s+0x%" PRIx64,
					 names + sym.st_name, off);
			else
				snprintf(out, n, "%s", names + sym.st_name);
			return true;
		}
	}
	return false;
}

static bool file_symbol(const char *path, uint64_t vaddr, char *out,
			size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool found = false;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0) {
		size_t size = (size_t)st.st_size;
		void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			found = symtab_lookup(map, size, vaddr, out, n);
			munmap(map, size);
		}
	}
	close(fd);
	return found;
}

void weft__trace_fn_name(uintptr_t fn, char *out, size_t n)
{
	Dl_info info;
	struct link_map *lm = NULL;
	if (dladdr1((void *)fn, &info, (void **)&lm, RTLD_DL_LINKMAP)) {
		if (info.dli_sname) {
			uintptr_t off = fn - (uintptr_t)info.dli_saddr;
			if (off)
				snprintf(out, n, "%s+0x%" PRIxPTR,
					 info.dli_sname, off);
			else
				snprintf(out, n, "%s", info.dli_sname);
			return;
		}
		if (lm) {
			/* The main program's link map has an empty name. */
			const char *file = lm->l_name && lm->l_name[0]
						   ? lm->l_name
						   : "/proc/self/exe";
			uint64_t vaddr = fn - lm->l_addr;
			if (file_symbol(file, vaddr, out, n))
				return;
			const char *name = info.dli_fname && info.dli_fname[0]
						   ? info.dli_fname
						   : file;
			const char *base = strrchr(name, '/');
			snprintf(out, n, "%s+0x%" PRIx64,
				 base ? base + 1 : name, vaddr);
			return;
		}
	}
	snprintf(out, n, "0x%" PRIxPTR, fn);
}

#endif
