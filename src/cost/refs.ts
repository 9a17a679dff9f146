/**
 * The works the presets cite, each with a full citation and where to find it. A source
 * string in a preset starts with one of these and adds the table, row or figure.
 */

export const REFS = {
  reference:
    "REFERENCE.md (project reference facts, /work/shared/REFERENCE.md)",
  intelOpt:
    "Intel 64 and IA-32 Architectures Optimization Reference Manual (order no. 248966), Skylake client microarchitecture TLB and cache tables; https://www.intel.com/content/www/us/en/developer/articles/technical/intel-sdm.html",
  intelSdmLeaf18:
    "Intel 64 and IA-32 Architectures Software Developer's Manual vol. 2A, CPUID leaf 18H (Deterministic Address Translation Parameters)",
  amdApmCpuid:
    "AMD64 Architecture Programmer's Manual vol. 3, Appendix E, CPUID Fn8000_0005/Fn8000_0006/Fn8000_0019 (TLB identifiers)",
  instlat:
    "InstLatx64 CPUID and AIDA64 memory-latency dumps, https://github.com/InstLatx64/InstLatx64",
  caqa:
    "Hennessy & Patterson, Computer Architecture: A Quantitative Approach, 7th ed., sec. 2.6 (Intel Core i9-12900, Alder Lake P-core = Golden Cove), as summarized at https://my-knowledge-base-bmo.pages.dev/Reading-Notes/Computer-Architecture/CAQA/02-Memory-Hierarchy/08-Intel-Core-i9-12900",
  anandSkx:
    "AnandTech, The Intel Skylake-X Review (2017), cache comparison table Skylake-S vs Skylake-SP; https://www.anandtech.com/show/11550",
  cpunewsGlc:
    "cpunews.net, Alder Lake architecture analysis p.5 (Intel Architecture Day 2021: Golden Cove doubles the page walkers from 2 to 4, L1 DTLB 64 -> 96); https://cpunews.net/%e4%bb%a3%e8%99%9f-alder-lake%e3%80%81intel-12-%e4%bb%a3-core-%e8%99%95%e7%90%86%e5%99%a8%e6%9e%b6%e6%a7%8b%e5%88%86%e6%9e%90/5",
  virtuoso:
    "REFERENCE.md sec. 6: paging-structure-cache sizes are unpublished; the Virtuoso simulator (Kanellopoulos et al.) uses 3 levels x 32 entries, 4-way",
  bhargava:
    "Bhargava, Serebrin, Spadini, Manne, Accelerating Two-Dimensional Page Walks for Virtualized Systems, ASPLOS'08 (nested TLB of guest page-table translations)",
  unikraft:
    "Kuenzer et al., Unikraft: Fast, Specialized Unikernels the Easy Way, EuroSys'21, Table 1; artifact results https://github.com/unikraft/eurosys21-artifacts/blob/master/experiments/tab_01_bincompat-syscalls/results/table.txt (Intel i7-9700K, Coffee Lake = Skylake core, Linux 5.11 in a KVM guest)",
  isounik:
    "Li, Du, Xia, Iso-UniK: lightweight multi-process unikernel through memory protection keys, Cybersecurity 3:11 (2020), doi:10.1186/s42400-020-00051-9 (abstract)",
  kylinx:
    "Zhang et al., KylinX: A Dynamic Library Operating System for Simplified and Efficient Cloud Virtualization, USENIX ATC'18, as summarized in REFERENCE.md sec. 1",
  izraelevitz:
    "Izraelevitz et al., Basic Performance Measurements of the Intel Optane DC Persistent Memory Module, arXiv:1903.05714 (2019)",
  handy:
    "Blocks & Files, Optane DIMM access modes (2019), after Jim Handy (Objective Analysis): Optane DIMM media read ~350 ns, write ~1,050 ns; https://blocksandfiles.com/2019/07/02/optane-dimm-access-modes/",
  pond:
    "Li et al., Pond: CXL-Based Memory Pooling Systems for Cloud Platforms, ASPLOS'23, https://moatlab.github.io/publication/conference-paper/asplos23-pond/ (CXL pool access adds 70-90 ns over NUMA-local DRAM; also REFERENCE.md sec. 7)",
} as const;

export type RefKey = keyof typeof REFS;
