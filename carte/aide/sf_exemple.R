# Les communes de la MEL et leur parc social avec R et sf (GDAL, pilote OAPIF).
# PORTAIL_URL : l'adresse du portail ; PORTAIL_LOGIN, PORTAIL_PASSWORD : votre compte.
library(sf)
Sys.setenv(GDAL_HTTP_USERPWD = paste0(Sys.getenv("PORTAIL_LOGIN"), ":",
                                      Sys.getenv("PORTAIL_PASSWORD")))
communes <- st_read(paste0("OAPIF:", Sys.getenv("PORTAIL_URL"), "/collections/parc_communes"),
                    quiet = TRUE)
print(nrow(communes))
