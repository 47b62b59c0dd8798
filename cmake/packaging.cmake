# Install rules and the Debian package (CPack's DEB generator). scripts/package.sh builds it in
# its own build folder with PNEUMO_DEFAULT_MODEL_DIR=/usr/share/pneumo/models/default, so the
# packaged binary finds the shipped model where the package puts it:
#
#   /usr/bin/pneumo                         the binary (web UI and API description built in)
#   /usr/share/pneumo/models/default/       the shipped model
#   /etc/pneumo/pneumo.conf                 pneumo serve's settings (conffile)
#   /etc/default/pneumo-train               pneumo-train.service's settings (conffile)
#   /lib/systemd/system/pneumo.service      the server, hardened (deploy/systemd)
#   /lib/systemd/system/pneumo-train.service  training, then `pneumo model publish`
#   postinst: the pneumo system user, /var/lib/pneumo (its state), models/current
include(GNUInstallDirs)

install(TARGETS pneumo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/default DESTINATION ${CMAKE_INSTALL_DATADIR}/pneumo/models)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/pneumo.conf DESTINATION /etc/pneumo
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/pneumo-train.default DESTINATION /etc/default
        RENAME pneumo-train)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/pneumo.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/pneumo-train.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME systemd.md)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pneumo)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "pneumonia detection on chest X-rays: HTTP server, web UI, training")
set(CPACK_PACKAGE_DESCRIPTION
    "pneumo predicts pneumonia on chest X-rays (JPEG, PNG, DICOM) with a LibTorch model: an HTTP API and web UI with dynamic batching, Grad-CAM heatmaps, a SQLite or Redis history and Prometheus metrics, and the tools to train, calibrate, evaluate and publish models. Decision support only, not a diagnosis.")
set(CPACK_PACKAGE_CONTACT "pneumo maintainers <pneumo@example.org>")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # pneumo_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages (libtorch1.13, libopencv-*, libdcmtk17, ...) from dpkg-shlibdeps;
# adduser for the postinst. apt resolves them from Debian 12's archive.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# LibTorch's BLAS is an alternative (libblas.so.3): OpenBLAS is several times faster than the
# reference one that would otherwise satisfy it.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server, nginx, prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
